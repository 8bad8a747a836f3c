/// A host name with no `Default`.
#[derive(Debug)]
struct Host(String);

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(decode)]
enum E {
    #[error("database at {host:?} down")]
    #[api(status = 503)]
    DatabaseDown { host: Host }, // hidden on a 5xx: not in the response
}

fn main() {}
