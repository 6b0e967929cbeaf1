//! What the page says it belongs to (`SESAME__ACCOUNT__*`): the product's
//! name, its help and privacy links, its logo — read once at start-up. The
//! name and links are shown through maud, which escapes them; the logo is
//! served from this origin at `/account/logo`, since the page's
//! Content-Security-Policy allows images from nowhere else.

use axum::{
    body::Bytes,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use sesame_factory::{AccountSettings, LOGO_MAX_BYTES, logo_content_type};

/// The account page's branding.
#[derive(Debug, Clone)]
pub struct Branding {
    /// The product's name.
    pub product: String,
    /// A link to its help, if any.
    pub help_url: Option<String>,
    /// A link to its privacy notice, if any.
    pub privacy_url: Option<String>,
    /// Its logo, if any.
    logo: Option<(&'static str, Bytes)>,
}

impl Branding {
    /// The branding the settings give, the logo read from its file. The
    /// settings checked the file at load; one that cannot be read now is
    /// logged and left out rather than failing the start.
    pub fn from_settings(settings: &AccountSettings) -> Self {
        let logo = settings.logo_file.as_ref().and_then(|file| {
            let content_type = logo_content_type(file)?;
            match std::fs::read(file) {
                Ok(bytes) if bytes.len() as u64 <= LOGO_MAX_BYTES => Some((content_type, Bytes::from(bytes))),
                Ok(bytes) => {
                    tracing::warn!(file = %file.display(), bytes = bytes.len(), "the logo grew past 64 KiB; not shown");
                    None
                }
                Err(err) => {
                    tracing::warn!(file = %file.display(), error = %err, "the logo cannot be read; not shown");
                    None
                }
            }
        });
        Self {
            product: settings.product_name.clone(),
            help_url: settings.help_url.clone(),
            privacy_url: settings.privacy_url.clone(),
            logo,
        }
    }

    /// Whether there is a logo to show.
    pub fn has_logo(&self) -> bool {
        self.logo.is_some()
    }

    /// `GET /account/logo`: the logo, or 404 when none is configured.
    pub fn logo_response(&self) -> Response {
        match &self.logo {
            Some((content_type, bytes)) => (
                [(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "public, max-age=3600")],
                bytes.clone(),
            )
                .into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }
}
