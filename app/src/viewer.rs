//! Who is looking at the page, as the server identified them from their
//! session. The server knows it (Leptos context); the shell writes it into
//! `<meta>` tags so the browser hydrates the same header.

use crate::roles::Role;

pub const META_USERNAME: &str = "dscloud-user";
pub const META_DISPLAY_NAME: &str = "dscloud-user-name";
pub const META_ROLE: &str = "dscloud-user-role";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Viewer {
    pub username: String,
    pub display_name: String,
    pub role: Role,
}

/// The signed-in user of this page, if any.
pub fn current() -> Option<Viewer> {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<Viewer>()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        use crate::meta::content;
        Some(Viewer {
            username: content(META_USERNAME)?,
            display_name: content(META_DISPLAY_NAME)?,
            role: content(META_ROLE)?.parse().ok()?,
        })
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        None
    }
}
