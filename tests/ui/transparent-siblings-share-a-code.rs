#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum AuthError {
    #[error("invalid")]
    #[api(status = 400)]
    ValidationError,
}

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum BillingError {
    #[error("invalid")]
    #[api(status = 400)]
    ValidationError,
}

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum ApiError {
    #[error(transparent)]
    #[api(transparent)]
    Auth(AuthError),
    #[error(transparent)]
    #[api(transparent)]
    Billing(BillingError),
}

fn main() {}
