pub mod chart;
pub mod form;
pub mod idle_warning;
pub mod layout;
pub mod record;
