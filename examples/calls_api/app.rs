//! A call-analysis API, served by axum or actix-web: one
//! multipart upload endpoint with key checks, rate limits, required fields,
//! audio formats and a size cap. Included by `main.rs` and by the tests.

use std::sync::Arc;

use rebuff::{ApiError, RateLimit};
use serde::Serialize;

/// One megabyte, as this API counts them (1024 × 1024 bytes).
pub const MB: u64 = 1024 * 1024;

/// Errors of the calls API, in the nested envelope
/// (`{"error":{"code","message","details","request_id"}}`).
#[derive(Debug, thiserror::Error, ApiError)]
#[api(answer_rejections = CallError::answer)]
pub enum CallError {
    /// The `X-API-Key` header is missing or names no active key.
    #[error("unauthorized")]
    #[api(status = 401, message = "Invalid or missing API key")]
    Unauthorized,

    /// The uploaded file is not audio in a supported format.
    #[error("invalid file format {provided_format}")]
    #[api(
        status = 400,
        message = "Audio file must be in WAV, MP3, M4A, FLAC, or OGG format"
    )]
    InvalidFileFormat { provided_format: String },

    /// Required form fields are missing.
    #[error("missing fields {missing_fields:?}")]
    #[api(
        status = 400,
        code = "validation_error",
        message = "Missing required fields"
    )]
    MissingFields { missing_fields: Vec<&'static str> },

    /// The upload exceeds the size limit.
    #[error("file too large")]
    #[api(
        status = 413,
        message = "Audio file exceeds maximum size of {max_size_mb} MB"
    )]
    FileTooLarge { file_size_mb: u64, max_size_mb: u64 },

    /// The key sent more requests than its plan allows.
    #[error("rate limited")]
    #[api(
        status = 429,
        code = "rate_limit_exceeded",
        message = "Rate limit exceeded. Please try again in {retry_after} seconds.",
        rejection = RateLimited
    )]
    RateLimited {
        #[api(retry_after)]
        retry_after: u64,
        limit: String,
        #[api(rate_limit)]
        limits: RateLimit,
    },

    /// The upload broke off or was not valid multipart.
    #[error("bad upload: {0}")]
    #[api(
        status = 400,
        code = "invalid_request",
        message = "The upload could not be read"
    )]
    BadUpload(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl CallError {
    /// The server's own refusals in this API's words: a body over the
    /// [`surface`]'s limit is the file being too large.
    fn answer(rejection: &rebuff::Rejection) -> Option<Self> {
        match rejection {
            rebuff::Rejection::PayloadTooLarge {
                file_size,
                max_size,
            } => {
                // The surface allows a megabyte of form around the file.
                let max_size_mb = (max_size / MB).saturating_sub(1);
                let bytes = file_size.unwrap_or(max_size + 1);
                Some(CallError::FileTooLarge {
                    file_size_mb: ((bytes + MB / 2) / MB).max(max_size_mb + 1),
                    max_size_mb,
                })
            }
            _ => None,
        }
    }
}

pub use keys::Config;

#[path = "../support/keys.rs"]
mod keys;

/// `{"analysis_id":...,"status":"queued"}`
#[derive(Debug, Serialize)]
pub struct Analysis {
    pub analysis_id: String,
    pub status: &'static str,
}

/// What was received of the form.
#[derive(Debug, Default)]
pub struct Form {
    pub file_name: Option<String>,
    pub file_type: Option<String>,
    pub file_bytes: u64,
    pub agent_id: Option<String>,
    pub contact_id: Option<String>,
}

/// The server's state.
pub struct State {
    config: Config,
    pub max_upload_mb: u64,
    idempotency: Arc<dyn rebuff::server::idempotency::IdempotencyStore>,
}

const FORMATS: &[&str] = &["wav", "mp3", "m4a", "flac", "ogg"];

impl State {
    /// 100 MB uploads at most, as this API documents.
    pub fn new(config: Config) -> Arc<Self> {
        Self::with_limit(config, 100)
    }

    pub fn with_limit(config: Config, max_upload_mb: u64) -> Arc<Self> {
        Arc::new(State {
            idempotency: config.idempotency(),
            config,
            max_upload_mb,
        })
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_upload_mb * MB
    }

    /// Checks the `X-API-Key` (its rate limit is the server surface's).
    pub fn authorize(&self, key: Option<&str>) -> Result<(), CallError> {
        if self.config.knows(key) {
            Ok(())
        } else {
            Err(CallError::Unauthorized)
        }
    }

    /// A body declared larger than the cap, refused before it is read.
    pub fn check_declared(&self, content_length: Option<u64>) -> Result<(), CallError> {
        match content_length {
            Some(length) if length > self.max_bytes() + MB => Err(self.too_large(length)),
            _ => Ok(()),
        }
    }

    /// The 413 for an upload of `bytes` (rounded to whole megabytes, and
    /// always above the limit it broke).
    pub fn too_large(&self, bytes: u64) -> CallError {
        let file_size_mb = ((bytes + MB / 2) / MB).max(self.max_upload_mb + 1);
        CallError::FileTooLarge {
            file_size_mb,
            max_size_mb: self.max_upload_mb,
        }
    }

    /// Counts a chunk of the audio file against the cap.
    pub fn count(&self, form: &mut Form, chunk: usize) -> Result<(), CallError> {
        form.file_bytes += chunk as u64;
        if form.file_bytes > self.max_bytes() {
            Err(self.too_large(form.file_bytes))
        } else {
            Ok(())
        }
    }

    /// Checks the completed form and queues the analysis.
    pub fn analyze(&self, form: Form) -> Result<Analysis, CallError> {
        let mut missing = Vec::new();
        if form.agent_id.as_deref().is_none_or(str::is_empty) {
            missing.push("agent_id");
        }
        if form.contact_id.as_deref().is_none_or(str::is_empty) {
            missing.push("contact_id");
        }
        if form.file_name.is_none() && form.file_bytes == 0 {
            missing.push("audio_file");
        }
        if !missing.is_empty() {
            return Err(CallError::MissingFields {
                missing_fields: missing,
            });
        }
        let extension = form
            .file_name
            .as_deref()
            .and_then(|name| name.rsplit_once('.'))
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .or_else(|| {
                form.file_type
                    .as_deref()
                    .and_then(|t| t.rsplit('/').next())
                    .map(str::to_ascii_lowercase)
            })
            .unwrap_or_default();
        if !FORMATS.contains(&extension.as_str()) {
            return Err(CallError::InvalidFileFormat {
                provided_format: extension,
            });
        }
        Ok(Analysis {
            analysis_id: format!("an_{:016x}", fastrand::u64(..)),
            status: "queued",
        })
    }
}

/// The API's document (`/openapi.json`, feature `openapi`): the upload
/// route with the API's own errors, and what the surface answers every
/// route with (its 413 and 500, the rate limiter's 429s and headers, the
/// idempotency keys' answers), each with its code and an example body.
#[cfg(feature = "openapi")]
pub mod docs {
    use rebuff::RejectionKind::{MethodNotAllowed, NotFound};
    use rebuff::openapi::Responses;
    use rebuff::server::Surface;

    use super::CallError;

    rebuff::openapi_responses! {
        /// `POST /api/v1/calls/analyze`: a bad key, a file too large or of
        /// another format, missing fields, an upload that cannot be read,
        /// the rate limit.
        pub struct AnalyzeErrors = Responses::<CallError>::new();
    }

    /// Completes the document the route makes: its title, what `surface`
    /// answers every route with, and the answers of the whole API (an
    /// unknown path, a method a path does not take) as reusable responses.
    pub fn finish(
        mut api: utoipa::openapi::OpenApi,
        surface: &Surface<CallError>,
    ) -> utoipa::openapi::OpenApi {
        api.info = utoipa::openapi::InfoBuilder::new()
            .title("Calls API")
            .version("1")
            .build();
        Responses::<CallError>::none()
            .surface(surface)
            .add_to_every_operation(&mut api);
        let components = api.components.get_or_insert_with(Default::default);
        let any_route = Responses::<CallError>::none().rejections(&[NotFound, MethodNotAllowed]);
        for (status, response) in any_route.build() {
            components
                .responses
                .insert(format!("AnyRoute.{status}"), response);
        }
        api
    }
}

/// The axum front end.
pub mod axum_app {
    use std::sync::Arc;

    use axum::Router;
    use axum::extract::{Multipart, State as Shared};
    use axum::http::HeaderMap;
    #[cfg(not(feature = "openapi"))]
    use axum::routing::post;
    use rebuff::server::Surface;
    use rebuff::server::axum::Json;

    use super::{Analysis, CallError, Form, State};

    #[cfg_attr(feature = "openapi", utoipa::path(
        post,
        path = "/api/v1/calls/analyze",
        request_body(content_type = "multipart/form-data", description = "`audio_file`, `agent_id` and `contact_id`."),
        responses((status = 200, description = "The analysis, queued."), super::docs::AnalyzeErrors),
    ))]
    async fn analyze(
        Shared(state): Shared<Arc<State>>,
        headers: HeaderMap,
        // axum's own extractor, not rebuff's `Multipart`: this API answers
        // an unreadable upload with its own `invalid_request` error, the
        // cause kept for the log.
        multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
    ) -> Result<Json<Analysis>, CallError> {
        state.authorize(headers.get("x-api-key").and_then(|v| v.to_str().ok()))?;
        let length = headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        state.check_declared(length)?;
        let mut multipart =
            multipart.map_err(|err| CallError::BadUpload(err.body_text().into()))?;
        let mut form = Form::default();
        while let Some(mut field) = multipart
            .next_field()
            .await
            .map_err(|err| upload_error(&state, &form, err))?
        {
            match field.name().unwrap_or_default() {
                "audio_file" => {
                    form.file_name = field.file_name().map(str::to_owned);
                    form.file_type = field.content_type().map(str::to_owned);
                    while let Some(chunk) = field
                        .chunk()
                        .await
                        .map_err(|err| upload_error(&state, &form, err))?
                    {
                        state.count(&mut form, chunk.len())?;
                    }
                }
                "agent_id" => form.agent_id = field.text().await.ok(),
                "contact_id" => form.contact_id = field.text().await.ok(),
                _ => {}
            }
        }
        Ok(Json(state.analyze(form)?))
    }

    /// A multipart error: the body limit reached is the file being too big.
    fn upload_error(
        state: &State,
        form: &Form,
        err: axum::extract::multipart::MultipartError,
    ) -> CallError {
        if err.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            state.too_large(form.file_bytes.max(state.max_bytes() + 1))
        } else {
            CallError::BadUpload(Box::new(err))
        }
    }

    /// The route; with the `openapi` feature, through utoipa-axum, which
    /// collects its document, and `GET /openapi.json` serving it with what
    /// `surface` adds.
    #[cfg(feature = "openapi")]
    fn routes(surface: &Surface<CallError>) -> Router<Arc<State>> {
        let (router, api) = utoipa_axum::router::OpenApiRouter::new()
            .routes(utoipa_axum::routes!(analyze))
            .split_for_parts();
        let api = super::docs::finish(api, surface);
        router.route(
            "/openapi.json",
            axum::routing::get(move || async move { axum::Json(api) }),
        )
    }

    #[cfg(not(feature = "openapi"))]
    fn routes(_surface: &Surface<CallError>) -> Router<Arc<State>> {
        Router::new().route("/api/v1/calls/analyze", post(analyze))
    }

    pub fn router(state: Arc<State>) -> Router {
        let surface = super::surface(&state);
        routes(&surface).with_state(state).layer(surface)
    }
}

/// The actix-web front end.
pub mod actix_app {
    use std::sync::Arc;

    use actix_multipart::Multipart;
    use actix_web::{HttpRequest, HttpResponse, web};
    use futures_util::StreamExt;
    use rebuff::server::Surface;

    use super::{CallError, Form, State};

    #[cfg_attr(feature = "openapi", utoipa::path(
        post,
        path = "/api/v1/calls/analyze",
        request_body(content_type = "multipart/form-data", description = "`audio_file`, `agent_id` and `contact_id`."),
        responses((status = 200, description = "The analysis, queued."), super::docs::AnalyzeErrors),
    ))]
    async fn analyze(
        state: web::Data<Arc<State>>,
        req: HttpRequest,
        mut multipart: Multipart,
    ) -> Result<HttpResponse, CallError> {
        state.authorize(req.headers().get("x-api-key").and_then(|v| v.to_str().ok()))?;
        let length = req
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        state.check_declared(length)?;
        let mut form = Form::default();
        while let Some(field) = multipart.next().await {
            let mut field = field.map_err(|err| CallError::BadUpload(err.to_string().into()))?;
            let name = field.name().unwrap_or_default().to_owned();
            let mut text = Vec::new();
            if name == "audio_file" {
                form.file_name = field
                    .content_disposition()
                    .and_then(|d| d.get_filename())
                    .map(str::to_owned);
                form.file_type = field.content_type().map(ToString::to_string);
            }
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(|err| CallError::BadUpload(err.to_string().into()))?;
                if name == "audio_file" {
                    state.count(&mut form, chunk.len())?;
                } else if text.len() < 4096 {
                    text.extend_from_slice(&chunk);
                }
            }
            match name.as_str() {
                "agent_id" => form.agent_id = String::from_utf8(text).ok(),
                "contact_id" => form.contact_id = String::from_utf8(text).ok(),
                _ => {}
            }
        }
        Ok(HttpResponse::Ok().json(state.analyze(form)?))
    }

    /// The route's document: its `utoipa::path`, collected.
    #[cfg(feature = "openapi")]
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(analyze))]
    struct Api;

    /// The route; with the `openapi` feature, `GET /openapi.json` serves
    /// the same document as the axum front end.
    pub fn configure(
        state: Arc<State>,
        surface: &Surface<CallError>,
    ) -> impl FnOnce(&mut web::ServiceConfig) {
        #[cfg(feature = "openapi")]
        let api = super::docs::finish(<Api as utoipa::OpenApi>::openapi(), surface);
        #[cfg(not(feature = "openapi"))]
        let _ = surface;
        move |cfg| {
            cfg.app_data(web::Data::new(state))
                .service(web::resource("/api/v1/calls/analyze").route(web::post().to(analyze)));
            #[cfg(feature = "openapi")]
            {
                cfg.service(web::resource("/openapi.json").route(web::get().to(move || {
                    let api = api.clone();
                    async move { HttpResponse::Ok().json(api) }
                })));
            }
        }
    }
}

/// The error surface, the same for both frameworks: everything from
/// [`CallError`], bodies up to the upload cap plus a megabyte for the form
/// around the file.
pub fn surface(state: &State) -> rebuff::server::Surface<CallError> {
    // A retried upload with its Idempotency-Key gets the first answer. The
    // keys fingerprint every body the limit below admits (holding it in
    // memory meanwhile). Callers are told apart by their X-API-Key (the
    // keys' default scope reads it): one caller's key never answers another.
    let keys = rebuff::server::idempotency::IdempotencyKeys::new(state.idempotency.clone());
    rebuff::server::Surface::new()
        .body_limit(state.max_bytes() + MB)
        .rate_limit(state.config.limiter(|request| request.header("x-api-key")))
        .idempotency(keys)
}

/// Serves with axum on `listener` until the process ends.
pub async fn serve_axum(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        axum_app::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}

/// Serves with actix-web on `listener` (call within a tokio runtime).
pub fn serve_actix(
    listener: std::net::TcpListener,
    state: Arc<State>,
) -> std::io::Result<actix_web::dev::Server> {
    use actix_web::{App, HttpServer};
    // One surface (and so one idempotency store) for every worker.
    let surface = surface(&state);
    Ok(HttpServer::new(move || {
        App::new()
            .configure(actix_app::configure(state.clone(), &surface))
            .wrap(surface.clone())
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}
