//! A lead-management API, served by axum or actix-web: the
//! domain (validation, storage, keys, rate limits) once, and a thin front end
//! per framework. Included by `main.rs` and by the integration tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rebuff::{ApiError, RateLimit};
use serde::{Deserialize, Serialize};

/// Errors of the leads API, in the flat envelope
/// (`{"success":false,"error":"...","code":"...",...}`).
#[derive(Debug, thiserror::Error, ApiError)]
#[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE", rename_all = "camelCase")]
pub enum LeadError {
    /// The `Authorization: Bearer` key is missing or unknown.
    #[error("unauthorized")]
    #[api(status = 401, message = "Invalid or missing API key")]
    Unauthorized,

    /// A field of the request is missing or invalid.
    #[error("validation failed on {field}")]
    #[api(status = 400, message = "Validation failed")]
    ValidationError {
        #[api(example = "email")]
        field: &'static str,
        #[api(example = "invalid-email")]
        value: String,
        #[api(example = "Must be a valid email address")]
        message: &'static str,
    },

    /// No lead has this id in the workspace.
    #[error("lead {lead_id} not found")]
    #[api(status = 404, message = "Lead not found")]
    LeadNotFound {
        #[api(example = "lead_nonexistent123")]
        lead_id: String,
        #[api(example = "No lead found with this ID in your workspace")]
        message: &'static str,
    },

    /// A lead with this email exists already.
    #[error("duplicate email {email}")]
    #[api(status = 409, message = "Email already exists")]
    DuplicateEmail {
        #[api(example = "ada@example.com")]
        email: String,
        #[api(example = "lead_1a2b3c4d5e6f7a8b")]
        existing_lead_id: String,
        #[api(example = "A lead with this email already exists in your workspace")]
        message: &'static str,
    },

    /// The key (or, without one, the address) sent more requests than its
    /// plan allows; the server's rate limiter answers with it.
    #[error("rate limited")]
    #[api(status = 429, message = "Rate limit exceeded", rejection = RateLimited)]
    RateLimitExceeded {
        #[api(retry_after, skip, example = 60)]
        retry_after: u64,
        #[api(rate_limit)]
        limits: RateLimit,
    },
}

/// A stored lead.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Lead {
    pub id: String,
    pub name: String,
    pub email: String,
}

/// `POST /api/v1/leads` body; fields are optional so that a missing one is a
/// validation error, not a JSON error.
#[derive(Debug, Deserialize)]
pub struct NewLead {
    pub name: Option<String>,
    pub email: Option<String>,
}

/// `{"success":true,"data":...}`, the success shape of the flat envelope.
#[derive(Debug, Serialize)]
pub struct Success<T> {
    pub success: bool,
    pub data: T,
}

impl<T> Success<T> {
    pub fn of(data: T) -> Self {
        Success {
            success: true,
            data,
        }
    }
}

pub use keys::Config;

#[path = "../support/keys.rs"]
mod keys;

/// The server's state, shared by every request.
pub struct State {
    config: Config,
    leads: Mutex<Store>,
    idempotency: Arc<dyn rebuff::server::idempotency::IdempotencyStore>,
}

#[derive(Default)]
struct Store {
    by_id: HashMap<String, Lead>,
    by_email: HashMap<String, String>,
}

impl State {
    pub fn new(config: Config) -> Arc<Self> {
        Arc::new(State {
            idempotency: config.idempotency(),
            config,
            leads: Mutex::new(Store::default()),
        })
    }

    /// Checks the bearer key (its rate limit is the server surface's).
    pub fn authorize(&self, authorization: Option<&str>) -> Result<(), LeadError> {
        let key = authorization.and_then(|value| value.strip_prefix("Bearer "));
        if self.config.knows(key) {
            Ok(())
        } else {
            Err(LeadError::Unauthorized)
        }
    }

    /// Validates and stores a new lead.
    pub fn create(&self, input: NewLead) -> Result<Lead, LeadError> {
        let name = input.name.unwrap_or_default().trim().to_owned();
        if name.is_empty() {
            return Err(LeadError::ValidationError {
                field: "name",
                value: name,
                message: "Name is required",
            });
        }
        let email = input.email.unwrap_or_default().trim().to_owned();
        if email.is_empty() {
            return Err(LeadError::ValidationError {
                field: "email",
                value: email,
                message: "Email is required",
            });
        }
        if !is_email(&email) {
            return Err(LeadError::ValidationError {
                field: "email",
                value: email,
                message: "Must be a valid email address",
            });
        }
        let mut store = self.leads.lock().expect("store lock");
        let key = email.to_ascii_lowercase();
        if let Some(existing) = store.by_email.get(&key) {
            return Err(LeadError::DuplicateEmail {
                email,
                existing_lead_id: existing.clone(),
                message: "A lead with this email already exists in your workspace",
            });
        }
        let lead = Lead {
            id: format!("lead_{:016x}", fastrand::u64(..)),
            name,
            email,
        };
        store.by_email.insert(key, lead.id.clone());
        store.by_id.insert(lead.id.clone(), lead.clone());
        Ok(lead)
    }

    /// A stored lead.
    pub fn get(&self, id: &str) -> Result<Lead, LeadError> {
        let store = self.leads.lock().expect("store lock");
        store
            .by_id
            .get(id)
            .cloned()
            .ok_or_else(|| LeadError::LeadNotFound {
                lead_id: id.to_owned(),
                message: "No lead found with this ID in your workspace",
            })
    }
}

/// One `@`, something before it, a dot in what follows.
fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.split('.').count() >= 2
        && domain.split('.').all(|part| !part.is_empty())
        && !email.chars().any(char::is_whitespace)
}

/// The API's document (`/openapi.json`, feature `openapi`): each route
/// lists the errors its handler and extractors answer with, and the
/// surface adds what it answers any route with (its 413 and 500, the rate
/// limiter's 429s and headers, the idempotency keys' answers on the POST),
/// each with its code and an example body.
#[cfg(feature = "openapi")]
pub mod docs {
    use rebuff::RejectionKind::{
        InvalidJson, InvalidPath, MethodNotAllowed, NotFound, UnsupportedMediaType,
    };
    use rebuff::openapi::Responses;
    use rebuff::server::Surface;

    use super::LeadError;

    rebuff::openapi_responses! {
        /// `POST /api/v1/leads`: a bad key, an invalid or duplicate lead, a
        /// body that is not JSON or of another type.
        pub struct CreateLeadErrors = Responses::<LeadError>::new()
            .variants(&["Unauthorized", "ValidationError", "DuplicateEmail"])
            .rejections(&[InvalidJson, UnsupportedMediaType]);
    }

    rebuff::openapi_responses! {
        /// `GET /api/v1/leads/{id}`: a bad key, an unknown lead or an id
        /// that cannot be read.
        pub struct GetLeadErrors = Responses::<LeadError>::new()
            .variants(&["Unauthorized", "LeadNotFound"])
            .rejections(&[InvalidPath]);
    }

    /// Completes the document the routes make: its title, what `surface`
    /// answers every route with, and the answers of the whole API (an
    /// unknown path, a method a path does not take) as reusable responses.
    pub fn finish(
        mut api: utoipa::openapi::OpenApi,
        surface: &Surface<LeadError>,
    ) -> utoipa::openapi::OpenApi {
        api.info = utoipa::openapi::InfoBuilder::new()
            .title("Leads API")
            .version("1")
            .build();
        Responses::<LeadError>::none()
            .surface(surface)
            .add_to_every_operation(&mut api);
        let components = api.components.get_or_insert_with(Default::default);
        let any_route = Responses::<LeadError>::none().rejections(&[NotFound, MethodNotAllowed]);
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
    use axum::extract::State as Shared;
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::routing::get;
    #[cfg(not(feature = "openapi"))]
    use axum::routing::post;
    use rebuff::server::Surface;
    use rebuff::server::axum::{Json, Path};

    use super::{Lead, LeadError, NewLead, State, Success};

    fn authorization(headers: &HeaderMap) -> Option<&str> {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
    }

    #[cfg_attr(feature = "openapi", utoipa::path(
        post,
        path = "/api/v1/leads",
        responses((status = 201, description = "The lead, created."), super::docs::CreateLeadErrors),
    ))]
    async fn create(
        Shared(state): Shared<Arc<State>>,
        headers: HeaderMap,
        Json(input): Json<NewLead>,
    ) -> Result<(StatusCode, Json<Success<Lead>>), LeadError> {
        state.authorize(authorization(&headers))?;
        Ok((StatusCode::CREATED, Json(Success::of(state.create(input)?))))
    }

    #[cfg_attr(feature = "openapi", utoipa::path(
        get,
        path = "/api/v1/leads/{id}",
        params(("id" = String, Path, description = "The lead's id")),
        responses((status = 200, description = "The lead."), super::docs::GetLeadErrors),
    ))]
    async fn get_lead(
        Shared(state): Shared<Arc<State>>,
        headers: HeaderMap,
        Path(id): Path<String>,
    ) -> Result<Json<Success<Lead>>, LeadError> {
        state.authorize(authorization(&headers))?;
        Ok(Json(Success::of(state.get(&id)?)))
    }

    /// The routes; with the `openapi` feature, through utoipa-axum, which
    /// collects their documents, and `GET /openapi.json` serving it with
    /// what `surface` adds.
    #[cfg(feature = "openapi")]
    fn routes(surface: &Surface<LeadError>) -> Router<Arc<State>> {
        let (router, api) = utoipa_axum::router::OpenApiRouter::new()
            .routes(utoipa_axum::routes!(create))
            .routes(utoipa_axum::routes!(get_lead))
            .split_for_parts();
        let api = super::docs::finish(api, surface);
        router.route("/openapi.json", get(move || async move { axum::Json(api) }))
    }

    #[cfg(not(feature = "openapi"))]
    fn routes(_surface: &Surface<LeadError>) -> Router<Arc<State>> {
        Router::new()
            .route("/api/v1/leads", post(create))
            .route("/api/v1/leads/{id}", get(get_lead))
    }

    /// Routes and the error surface: every failure leaves in the flat
    /// envelope with the request's id.
    pub fn router(state: Arc<State>) -> Router {
        let surface = super::surface(&state);
        routes(&surface).layer(surface).with_state(state)
    }
}

/// The actix-web front end.
pub mod actix_app {
    use std::sync::Arc;

    use actix_web::{HttpRequest, HttpResponse, web};
    use rebuff::server::Surface;

    use super::{LeadError, NewLead, State, Success};

    fn authorization(req: &HttpRequest) -> Option<&str> {
        req.headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
    }

    #[cfg_attr(feature = "openapi", utoipa::path(
        post,
        path = "/api/v1/leads",
        responses((status = 201, description = "The lead, created."), super::docs::CreateLeadErrors),
    ))]
    async fn create(
        state: web::Data<Arc<State>>,
        req: HttpRequest,
        input: web::Json<NewLead>,
    ) -> Result<HttpResponse, LeadError> {
        state.authorize(authorization(&req))?;
        Ok(HttpResponse::Created().json(Success::of(state.create(input.into_inner())?)))
    }

    #[cfg_attr(feature = "openapi", utoipa::path(
        get,
        path = "/api/v1/leads/{id}",
        params(("id" = String, Path, description = "The lead's id")),
        responses((status = 200, description = "The lead."), super::docs::GetLeadErrors),
    ))]
    async fn get_lead(
        state: web::Data<Arc<State>>,
        req: HttpRequest,
        id: web::Path<String>,
    ) -> Result<HttpResponse, LeadError> {
        state.authorize(authorization(&req))?;
        Ok(HttpResponse::Ok().json(Success::of(state.get(&id)?)))
    }

    /// The routes' document: their `utoipa::path`s, collected.
    #[cfg(feature = "openapi")]
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(create, get_lead))]
    struct Api;

    /// Routes; the error surface is the app's one middleware
    /// ([`super::surface`]). With the `openapi` feature, `GET
    /// /openapi.json` serves the same document as the axum front end.
    pub fn configure(
        state: Arc<State>,
        surface: &Surface<LeadError>,
    ) -> impl FnOnce(&mut web::ServiceConfig) {
        #[cfg(feature = "openapi")]
        let api = super::docs::finish(<Api as utoipa::OpenApi>::openapi(), surface);
        #[cfg(not(feature = "openapi"))]
        let _ = surface;
        move |cfg| {
            cfg.app_data(web::Data::new(state))
                .service(web::resource("/api/v1/leads").route(web::post().to(create)))
                .service(web::resource("/api/v1/leads/{id}").route(web::get().to(get_lead)));
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
/// [`LeadError`], bodies up to 1 MiB, each bearer key limited by its plan.
pub fn surface(state: &State) -> rebuff::server::Surface<LeadError> {
    rebuff::server::Surface::new()
        .body_limit(1 << 20)
        .rate_limit(state.config.limiter(|request| request.bearer()))
        // A retried POST with its Idempotency-Key gets the first answer;
        // keys are scoped by the caller's `Authorization`.
        .idempotency(rebuff::server::idempotency::IdempotencyKeys::new(
            state.idempotency.clone(),
        ))
}

/// Which framework serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    Axum,
    Actix,
}

/// Serves on `listener` with `framework` until the process ends.
pub async fn serve(
    framework: Framework,
    listener: std::net::TcpListener,
    state: Arc<State>,
) -> std::io::Result<()> {
    match framework {
        Framework::Axum => {
            listener.set_nonblocking(true)?;
            serve_axum(tokio::net::TcpListener::from_std(listener)?, state).await
        }
        Framework::Actix => serve_actix(listener, state)?.await,
    }
}

/// Serves on `listener` until the process ends.
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

/// Serves on `listener` until the process ends (actix-web runs its own
/// workers; call from within a `tokio` runtime).
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
