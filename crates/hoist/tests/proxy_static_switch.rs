//! The deploy of a static site is the `live` symlink switched by rename: under load, every
//! request is answered, and each from one release whole (a large file never mixes two).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::thread;
use std::time::Duration;

use serde_json::json;

use crate::harness::free_port;
use crate::load_loop::LoadLoop;
use crate::proxy::Proxy;

/// Points `<dir>/live` at `releases/<release>` in one rename, as a deploy does.
fn switch_live(dir: &Path, release: &str) {
    let temporary = dir.join("live.tmp");
    let _ = fs::remove_file(&temporary);
    symlink(format!("releases/{release}"), &temporary).unwrap();
    fs::rename(&temporary, dir.join("live")).unwrap();
}

#[test]
fn a_live_switch_under_load_fails_no_request() {
    let dir = tempfile::tempdir().unwrap();
    for release in ["a", "b"] {
        let public = dir.path().join(format!("releases/{release}/public"));
        fs::create_dir_all(&public).unwrap();
        fs::write(public.join("index.html"), format!("release {release}")).unwrap();
        // 1 MB of one letter: streamed in several chunks, so a body assembled from two
        // releases would show as a mix of letters.
        fs::write(public.join("big.txt"), release.repeat(1024 * 1024)).unwrap();
    }
    switch_live(dir.path(), "a");
    let proxy = Proxy::start(&dir.path().join("proxy"), free_port());
    proxy.admin(json!({ "set_static": dir.path().join("live/public") }));
    assert_eq!(proxy.get("/"), (200, "release a".to_owned()));

    let pages = LoadLoop::start(proxy.port, "/", 4);
    let big = LoadLoop::start(proxy.port, "/big.txt", 2);
    for switch in 0..12 {
        thread::sleep(Duration::from_millis(250));
        switch_live(dir.path(), if switch % 2 == 0 { "b" } else { "a" });
    }
    thread::sleep(Duration::from_millis(250));
    let pages = pages.finish();
    let big = big.finish();

    assert!(pages.requests > 100, "too little load: {}", pages.requests);
    assert_eq!(pages.failures, Vec::<String>::new(), "failed page requests");
    assert_eq!(
        pages.bodies.iter().map(String::as_str).collect::<Vec<_>>(),
        ["release a", "release b"],
        "both releases were served"
    );
    assert_eq!(big.failures, Vec::<String>::new(), "failed large requests");
    for body in &big.bodies {
        assert_eq!(body.len(), 1024 * 1024);
        let first = body.as_bytes()[0];
        assert!(
            body.bytes().all(|b| b == first),
            "one body mixed two releases"
        );
    }
    assert!(big.requests > 4, "too few large requests: {}", big.requests);
}
