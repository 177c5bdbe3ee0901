//! One module a page.

mod coming_soon;
mod home;
mod not_found;
mod sign_in;
mod validate;

pub use coming_soon::ComingSoon;
pub use home::Home;
pub use not_found::NotFound;
pub use sign_in::SignIn;
pub use validate::ValidatePage;
