#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(rename_all = "camelCase")]
enum E {
    #[error("x")]
    #[api(status = 400)]
    Invalid {
        field_name: String,
        #[api(rename = "fieldName")]
        name: String,
    },
}

fn main() {}
