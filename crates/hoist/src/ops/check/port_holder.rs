//! When nothing of this root holds the service's port (no instance recorded as running, or
//! the built-in proxy gone), whoever does is named: `deploy` would be refused on that port,
//! so "deploy starts it" alone would not be the whole truth.

use hoist_core::spec::{Service, Strategy};

use super::HostCheck;
use crate::ports::HostHandle;
use crate::ports::router::RouteConfig;
use crate::ports::runtime::InstanceState;

/// Adds a problem naming the port's holder when the service should hold it and does not.
pub(super) fn check_port_holder(
    handle: &HostHandle,
    service: &Service,
    serving: Option<&InstanceState>,
    out: &mut HostCheck,
) {
    let ours = match service.strategy {
        Strategy::Recreate => serving.is_some_and(|state| state.alive),
        // With nginx in front the port is nginx's, not ours to account for.
        Strategy::BlueGreen => {
            !matches!(
                RouteConfig::for_service(service),
                RouteConfig::Builtin { .. }
            ) || out.proxy.as_ref().is_some_and(|proxy| proxy.alive)
        }
    };
    if ours {
        return;
    }
    // A host binary from before this call answers with an error: a diagnosis less, no more.
    let Ok(Some(holder)) = handle.runtime.port_holder(service.port) else {
        return;
    };
    // An instance of this root that no record owns is reported as a stray already.
    if holder.this_root {
        return;
    }
    out.problems.push(format!(
        "port {} is taken by {}; {}",
        service.port, holder.holder, holder.hint
    ));
}
