pub mod account_page;
pub mod home_page;
pub mod not_found_page;
pub mod sign_in_page;
pub mod sign_up_page;
