pub mod form;
pub mod idle_warning;
pub mod layout;
