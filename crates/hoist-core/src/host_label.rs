//! Short names for the hosts of a fleet, for the `web1 | …` prefix of `logs` and `exec`:
//! an SSH host's name without user and port, `local` for a deploy root on this machine —
//! or the whole address where the short name would not tell two hosts apart.

use crate::host_address::HostAddress;

/// One label per address, in order.
pub fn short_labels(addresses: &[HostAddress]) -> Vec<String> {
    let short: Vec<String> = addresses.iter().map(short_label).collect();
    short
        .iter()
        .zip(addresses)
        .map(|(label, address)| {
            if short.iter().filter(|other| *other == label).count() == 1 {
                label.clone()
            } else {
                address.to_string()
            }
        })
        .collect()
}

/// The labels padded to the widest, so prefixes line up.
pub fn aligned(labels: Vec<String>) -> Vec<String> {
    let width = labels
        .iter()
        .map(|label| label.chars().count())
        .max()
        .unwrap_or(0);
    labels
        .into_iter()
        .map(|label| format!("{label:<width$}"))
        .collect()
}

fn short_label(address: &HostAddress) -> String {
    match address {
        HostAddress::Local { .. } => "local".to_owned(),
        HostAddress::Ssh(destination) => destination.host.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(addresses: &[&str]) -> Vec<String> {
        let parsed: Vec<HostAddress> = addresses.iter().map(|a| a.parse().unwrap()).collect();
        short_labels(&parsed)
    }

    #[test]
    fn names_hosts_without_user_and_port() {
        assert_eq!(
            labels(&["deploy@web1", "deploy@web2:2222", "[2001:db8::1]:22"]),
            vec!["web1", "web2", "2001:db8::1"]
        );
        assert_eq!(labels(&["local:/srv/app"]), vec!["local"]);
    }

    #[test]
    fn aligned_labels_share_a_width() {
        let labels = vec!["web1".to_owned(), "db".to_owned(), "é".to_owned()];
        assert_eq!(aligned(labels), vec!["web1", "db  ", "é   "]);
    }

    #[test]
    fn keeps_the_address_where_short_names_collide() {
        assert_eq!(
            labels(&["a@web1", "b@web1:2222", "web2"]),
            vec!["a@web1", "b@web1:2222", "web2"]
        );
        assert_eq!(
            labels(&["local:/srv/a", "local:/srv/b"]),
            vec!["local:/srv/a", "local:/srv/b"]
        );
    }
}
