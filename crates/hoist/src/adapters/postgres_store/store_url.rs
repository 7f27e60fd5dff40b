//! The `--state` URL of a PostgreSQL store: recognising one, and the form of it that may be
//! shown. Messages name the store by its URL, so the password (in the user part or in a
//! `password=` parameter) is masked before the URL goes anywhere near an error.

const SCHEMES: [&str; 2] = ["postgres://", "postgresql://"];
const MASK: &str = "***";

/// Whether `state` names a PostgreSQL store rather than a SQLite file.
pub fn is_postgres_url(state: &str) -> bool {
    SCHEMES.iter().any(|scheme| state.starts_with(scheme))
}

/// `url` with any password replaced by `***`. The user part is taken to run to the *last* `@`
/// before the parameters, so a password with an unencoded `@` or `/` in it (which
/// tokio-postgres would misread anyway) is still masked whole.
pub fn redacted(url: &str) -> String {
    let Some(scheme) = SCHEMES.iter().find(|scheme| url.starts_with(**scheme)) else {
        return url.to_owned();
    };
    let rest = &url[scheme.len()..];
    let (location, query) = match rest.split_once('?') {
        Some((location, query)) => (location, Some(query)),
        None => (rest, None),
    };
    let mut shown = (*scheme).to_owned();
    match location.rsplit_once('@') {
        Some((credentials, host_and_path)) => {
            match credentials.split_once(':') {
                Some((user, _password)) => {
                    shown.push_str(user);
                    shown.push(':');
                    shown.push_str(MASK);
                }
                None => shown.push_str(credentials),
            }
            shown.push('@');
            shown.push_str(host_and_path);
        }
        None => shown.push_str(location),
    }
    if let Some(query) = query {
        shown.push('?');
        shown.push_str(&redacted_query(query));
    }
    shown
}

fn redacted_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key == "password" => format!("{key}={MASK}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_both_schemes_only() {
        assert!(is_postgres_url("postgres://db.internal/hoist"));
        assert!(is_postgres_url("postgresql:///hoist?host=/run/postgresql"));
        assert!(!is_postgres_url(".hoist/state.db"));
        assert!(!is_postgres_url("/srv/postgres://odd-but-a-path"));
        assert!(!is_postgres_url("host=localhost dbname=hoist"));
    }

    #[test]
    fn masks_the_password_in_the_user_part() {
        assert_eq!(
            redacted("postgres://hoist:s3cr:et@127.0.0.1:5432/hoist"),
            "postgres://hoist:***@127.0.0.1:5432/hoist"
        );
        assert_eq!(
            redacted("postgresql://hoist@%2Frun%2Fpostgresql/hoist"),
            "postgresql://hoist@%2Frun%2Fpostgresql/hoist"
        );
        assert_eq!(
            redacted("postgres://hoist:p@ss/w0rd@db/hoist"),
            "postgres://hoist:***@db/hoist"
        );
        assert_eq!(
            redacted("postgres://127.0.0.1/hoist"),
            "postgres://127.0.0.1/hoist"
        );
    }

    #[test]
    fn masks_a_password_parameter() {
        assert_eq!(
            redacted("postgres:///hoist?host=/tmp/pg&password=hunter2&connect_timeout=3"),
            "postgres:///hoist?host=/tmp/pg&password=***&connect_timeout=3"
        );
        assert_eq!(
            redacted("postgres://u:p@h/d?password=x"),
            "postgres://u:***@h/d?password=***"
        );
    }
}
