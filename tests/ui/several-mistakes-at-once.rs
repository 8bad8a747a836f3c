#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(code_case = "snake", rename_al = "camelCase")]
enum E {
    #[error("x")]
    #[api(status = 600, message = "Lead {lead} not found")]
    NotFound { lead_id: u32 },
}

fn main() {}
