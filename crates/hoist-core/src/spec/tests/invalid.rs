use super::super::Spec;
use super::{MINIMAL, diagnostics, problem};
use crate::{EnvName, HostAddress};

/// `MINIMAL` with `extra` inserted before `[env.dev]`.
fn with(extra: &str) -> String {
    MINIMAL.replace("[env.dev]", &format!("{extra}\n\n[env.dev]"))
}

/// `MINIMAL` with `extra` added to `[env.dev]`.
fn with_env(extra: &str) -> String {
    format!("{MINIMAL}{extra}\n")
}

#[test]
fn malformed_toml_gives_the_parser_message_and_place() {
    let text = "[app\nname = \"x\"\n";
    let all = diagnostics(text);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].message, "invalid TOML: unclosed table, expected `]`");
    assert_eq!(all[0].span, Some(4..4));
}

#[test]
fn unknown_key_suggests_the_close_one() {
    let text = with("[service]\ncommand = \"run\"\nport = 1\nprot = 8080");
    let (diagnostic, at) = problem(&text, "unknown key `prot` in `[service]`");
    assert_eq!(at, "prot");
    assert_eq!(diagnostic.hint.as_deref(), Some("did you mean `port`?"));
}

#[test]
fn unknown_key_far_from_any_lists_the_known_ones() {
    let text = with("[app2]\nx = 1");
    let (diagnostic, at) = problem(&text, "unknown key `app2` at the top level");
    assert_eq!(at, "app2");
    assert_eq!(diagnostic.hint.as_deref(), Some("did you mean `app`?"));

    let text = with("[hooks]\nlisten = []");
    let (diagnostic, at) = problem(&text, "unknown key `listen` in `[hooks]`");
    assert_eq!(at, "listen");
    assert_eq!(
        diagnostic.hint.as_deref(),
        Some("known keys in `[hooks]`: `post_upload`, `stop`, `start`, `refresh`")
    );
}

#[test]
fn unknown_keys_are_found_in_every_table() {
    let text = with_env("hots = []\n[env.dev.vars]\nA = \"1\"")
        .replace("[app]", "[app]\nnmae = \"x\"")
        + "[service]\ncommand = \"x\"\nport = 1\n[service.health]\npath = \"/\"\ntimout = \"1s\"\n";
    let all = diagnostics(&text);
    let messages: Vec<&str> = all.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "unknown key `nmae` in `[app]`",
            "unknown key `hots` in `[env.dev]`",
            "unknown key `timout` in `[service.health]`",
        ]
    );
}

#[test]
fn missing_required_fields_point_at_the_table_header() {
    let text = with("[service]\ncommand = \"run\"");
    let (diagnostic, at) = problem(&text, "missing `port` in `[service]`");
    assert_eq!(at, "[service]");
    assert_eq!(diagnostic.hint.as_deref(), Some("add `port = 8080`"));

    let text = with("[service]\nport = 1");
    let (_, at) = problem(&text, "missing `command` in `[service]`");
    assert_eq!(at, "[service]");

    let text = with("[service]\ncommand = \"x\"\nport = 1\n[service.health]\nexpect_status = 200");
    let (_, at) = problem(&text, "missing `path` in `[service.health]`");
    assert_eq!(at, "[service.health]");

    let text = MINIMAL.replace("name = \"hello\"", "");
    let (_, at) = problem(&text, "missing `name` in `[app]`");
    assert_eq!(at, "[app]");

    let text = MINIMAL.replace("hosts = [\"local:/tmp/hoist-dev\"]", "keep_releases = 2");
    let (_, at) = problem(&text, "missing `hosts` in `[env.dev]`");
    assert_eq!(at, "[env.dev]");
}

#[test]
fn missing_app_has_a_hint_and_no_place() {
    let text = MINIMAL.replace("[app]\nname = \"hello\"\n", "");
    let all = diagnostics(&text);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].message, "missing `[app]`");
    assert_eq!(all[0].span, None);
    let hint = all[0].hint.as_deref().unwrap_or_default();
    assert!(hint.contains("name = \"my-app\""), "{hint}");
}

#[test]
fn no_environments_shows_an_example_table() {
    let text = "[app]\nname = \"hello\"\n";
    let all = diagnostics(text);
    assert_eq!(all.len(), 1);
    assert_eq!(
        all[0].message,
        "no environments: the spec needs at least one `[env.NAME]` table"
    );
    let hint = all[0].hint.as_deref().unwrap_or_default();
    assert!(
        hint.contains("[env.dev]\n    hosts = [\"local:/tmp/hoist/hello/dev\"]"),
        "{hint}"
    );

    let (_, at) = problem("[app]\nname = \"hello\"\n[env]\n", &all[0].message);
    assert_eq!(at, "[env]");
}

#[test]
fn wrong_types_say_what_was_expected() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[service]\ncommand = \"x\"\nport = \"8080\"",
            "`port` must be an integer from 1 to 65535",
            "\"8080\"",
        ),
        (
            "[service]\ncommand = \"x\"\nport = 70000",
            "`port` must be an integer from 1 to 65535",
            "70000",
        ),
        (
            "[service]\ncommand = 1\nport = 1",
            "`command` must be a string",
            "1",
        ),
        (
            "[service]\ncommand = \" \"\nport = 1",
            "`command` must not be empty",
            "\" \"",
        ),
        (
            "[service]\ncommand = \"x\"\nport = 1\nstrategy = \"rolling\"",
            "`strategy` must be `\"recreate\"` or `\"blue-green\"`",
            "\"rolling\"",
        ),
        (
            "[service]\ncommand = \"x\"\nport = 1\nstop_grace = \"10\"",
            "`stop_grace` must be a duration like `\"10s\"`, not `10`",
            "\"10\"",
        ),
        (
            "[service]\ncommand = \"x\"\nport = 1\nstop_grace = 10",
            "`stop_grace` must be a duration like `\"10s\"`",
            "10",
        ),
        (
            "[build]\nsteps = 3",
            "`steps` must be a command string or a list of them",
            "3",
        ),
        (
            "[build]\nupload = [\"a\", 2]",
            "`upload` must be a list of strings",
            "2",
        ),
        (
            "[build]\nexclude = \"*.pyc\"",
            "`exclude` must be a list of strings",
            "\"*.pyc\"",
        ),
        (
            "[hooks]\nstart = [\"ok\", \"\"]",
            "`start` has an empty command",
            "\"\"",
        ),
    ];
    for (extra, message, expected_at) in cases {
        let text = with(extra);
        let (_, at) = problem(&text, message);
        assert_eq!(at, *expected_at, "{message}");
    }
    let text = format!("service = 5\n{MINIMAL}");
    let (_, at) = problem(&text, "`service` must be a table");
    assert_eq!(at, "5");
}

#[test]
fn health_values_are_checked() {
    let health = |lines: &str| {
        with(&format!(
            "[service]\ncommand = \"x\"\nport = 1\n[service.health]\n{lines}"
        ))
    };
    let cases: &[(&str, &str, &str)] = &[
        (
            "path = \"health\"",
            "health `path` `health` must be a URL path starting with `/`",
            "\"health\"",
        ),
        (
            "path = \"/\"\nexpect_status = 99",
            "`expect_status` must be an integer from 100 to 599",
            "99",
        ),
        (
            "path = \"/\"\nsuccesses = 0",
            "`successes` must be an integer of at least 1",
            "0",
        ),
        (
            "path = \"/\"\ninterval = \"0s\"",
            "`interval` must be longer than zero",
            "\"0s\"",
        ),
        (
            "path = \"/\"\ntimeout = \"5s\"\ndeadline = \"3s\"",
            "health `deadline` (3s) must be at least `timeout` (5s)",
            "\"3s\"",
        ),
        (
            "path = \"/\"\ntimeout = \"1m\"",
            "health `deadline` (30s) must be at least `timeout` (1m)",
            "\"1m\"",
        ),
    ];
    for (lines, message, expected_at) in cases {
        let text = health(lines);
        let (_, at) = problem(&text, message);
        assert_eq!(at, *expected_at, "{message}");
    }
}

#[test]
fn strategy_typo_gets_a_suggestion() {
    let text = with("[service]\ncommand = \"x\"\nport = 1\nstrategy = \"blue_green\"");
    let (diagnostic, _) = problem(
        &text,
        "`strategy` must be `\"recreate\"` or `\"blue-green\"`",
    );
    assert_eq!(
        diagnostic.hint.as_deref(),
        Some("did you mean `blue-green`?")
    );
}

#[test]
fn upload_and_upload_version_exclude_each_other() {
    let text = with("[build]\nupload = [\"a\"]\nupload_version = \"dist\"");
    let (_, at) = problem(&text, "`upload` and `upload_version` cannot both be set");
    assert_eq!(at, "upload_version");
}

#[test]
fn paths_must_stay_inside() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[build]\nupload = [\"../secrets\"]",
            "path `../secrets` in `upload` must not contain `..`",
            "\"../secrets\"",
        ),
        (
            "[build]\nupload = [\"a/../../b\"]",
            "path `a/../../b` in `upload` must not contain `..`",
            "\"a/../../b\"",
        ),
        (
            "[build]\nupload = [\"/etc\"]",
            "path `/etc` in `upload` must be relative",
            "\"/etc\"",
        ),
        (
            "[build]\nupload = [\"\"]",
            "`upload` has an empty path",
            "\"\"",
        ),
        (
            "[build]\nupload = []",
            "`upload` must list at least one path",
            "[]",
        ),
        (
            "[build]\nupload_version = \"..\"",
            "path `..` in `upload_version` must not contain `..`",
            "\"..\"",
        ),
        (
            "[build]\nupload = [\"a\\u0000b\"]",
            "a path in `upload` contains a NUL character",
            "\"a\\u0000b\"",
        ),
        (
            "[config]\ntemplates = [\"/abs.j2\"]",
            "path `/abs.j2` in `templates` must be relative",
            "\"/abs.j2\"",
        ),
    ];
    for (extra, message, expected_at) in cases {
        let text = with(extra);
        let (_, at) = problem(&text, message);
        assert_eq!(at, *expected_at, "{message}");
    }
    let text = with_env("shared_dirs = [\"uploads\", \"../x\", \".\"]");
    let (_, at) = problem(&text, "path `../x` in `shared_dirs` must not contain `..`");
    assert_eq!(at, "\"../x\"");
    let (_, at) = problem(
        &text,
        "path `.` in `shared_dirs` must name a directory, not `.`",
    );
    assert_eq!(at, "\".\"");
}

#[test]
fn hostile_env_names_are_refused_with_the_env_name_hint() {
    for (header, name) in [
        ("[env.\"../x\"]", "../x"),
        ("[env.-rf]", "-rf"),
        ("[env.\"a b\"]", "a b"),
        ("[env.Prod]", "Prod"),
    ] {
        let text = format!("{MINIMAL}{header}\nhosts = [\"local:/srv/x\"]\n");
        let Err(error) = name.parse::<EnvName>() else {
            panic!("{name:?} was accepted");
        };
        let (diagnostic, at) = problem(&text, &error.to_string());
        assert_eq!(at, &header[5..header.len() - 1]);
        assert_eq!(diagnostic.hint.as_deref(), Some(error.hint()));
    }
}

#[test]
fn hosts_are_parsed_and_unique() {
    let text = with_env("root = \"/srv/hello\"").replace(
        "hosts = [\"local:/tmp/hoist-dev\"]",
        "hosts = [\"local:/srv/a\", \"web1:0\", \"local:/srv/a/\", \"deploy@web1\", \"web1\", \"deploy@web1\"]",
    );
    let Err(error) = "web1:0".parse::<HostAddress>() else {
        panic!("`web1:0` was accepted");
    };
    let (diagnostic, at) = problem(&text, &error.to_string());
    assert_eq!(at, "\"web1:0\"");
    assert_eq!(diagnostic.hint.as_deref(), Some(error.hint()));
    let (_, at) = problem(&text, "host `local:/srv/a/` is listed twice in `[env.dev]`");
    assert_eq!(at, "\"local:/srv/a/\"");
    let (_, at) = problem(&text, "host `deploy@web1` is listed twice in `[env.dev]`");
    assert_eq!(at, "\"deploy@web1\"");
    assert_eq!(
        diagnostics(&text).len(),
        3,
        "`web1` and `deploy@web1` differ"
    );

    let text = MINIMAL.replace("[\"local:/tmp/hoist-dev\"]", "[]");
    let (_, at) = problem(&text, "`hosts` in `[env.dev]` must list at least one host");
    assert_eq!(at, "[]");
}

#[test]
fn variable_and_secret_names_are_checked() {
    let text = with_env(
        "vars = { \"1X\" = \"a\", PORT = \"80\", SHARED = \"a\", N = 5 }\nsecrets = [\"A-B\", \"SHARED\", \"PORT\", \"T\", \"T\"]",
    );
    let (_, at) = problem(&text, "invalid variable name `1X`");
    assert_eq!(at, "\"1X\"");
    let (_, at) = problem(&text, "`PORT` cannot be a variable: hoist sets it");
    assert_eq!(at, "PORT");
    let (diagnostic, at) = problem(&text, "variable `N` must be a string");
    assert_eq!(at, "5");
    assert_eq!(
        diagnostic.hint.as_deref(),
        Some("quote the value: `N = \"5\"`")
    );
    let (_, at) = problem(&text, "invalid secret name `A-B`");
    assert_eq!(at, "\"A-B\"");
    let (_, at) = problem(
        &text,
        "`SHARED` is both a variable and a secret in `[env.dev]`",
    );
    assert_eq!(at, "\"SHARED\"");
    let (_, at) = problem(&text, "`PORT` cannot be a secret: hoist sets it");
    assert_eq!(at, "\"PORT\"");
    let (_, at) = problem(&text, "secret `T` is listed twice");
    assert_eq!(at, "\"T\"");
}

#[test]
fn keep_releases_and_app_name_are_bounded() {
    let text = with_env("keep_releases = 0");
    let (_, at) = problem(&text, "`keep_releases` must be an integer from 1 to 1000");
    assert_eq!(at, "0");
    let text = MINIMAL.replace("\"hello\"", "\"Hello World\"");
    let (_, at) = problem(
        &text,
        "invalid app name `Hello World`: it must start with a lowercase letter or a digit",
    );
    assert_eq!(at, "\"Hello World\"");
}

#[test]
fn every_problem_is_reported_in_file_order() {
    let text = "[app]\nname = 5\n\n[service]\nprot = 1\n\n[env.Dev]\nhosts = [\"web 1\"]\n";
    let all = diagnostics(text);
    let messages: Vec<&str> = all.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "`name` must be a string",
            "missing `command` in `[service]`",
            "missing `port` in `[service]`",
            "unknown key `prot` in `[service]`",
            "invalid environment name `Dev`: it must start with a lowercase letter or a digit",
            "invalid host `web 1`: the host must be a name or an address: letters, digits, `.`, `-` or `_`",
        ]
    );
}

#[test]
fn renders_a_parsed_problem_exactly() {
    let text = "[app]\nname = \"hello\"\n\n[service]\ncommand = \"python3 app.py\"\nport = 8080\nprot = 8080\n\n[env.dev]\nhosts = [\"local:/tmp/hoist-dev\"]\n";
    let Err(errors) = Spec::parse(text) else {
        panic!("parsed");
    };
    assert_eq!(
        errors.render("Hoist.toml", text),
        "error: unknown key `prot` in `[service]`\n  --> Hoist.toml:7:1\n   |\n 7 | prot = 8080\n   | ^^^^\nhint: did you mean `port`?\n"
    );
}

#[test]
fn pass_env_takes_variable_names_once_and_none_of_hoists() {
    let text =
        with("[build]\npass_env = [\"NPM_TOKEN\", \"bad-name\", \"HOIST_TOKEN\", \"NPM_TOKEN\"]");
    let (diagnostic, at) = problem(&text, "invalid variable name `bad-name` in `pass_env`");
    assert_eq!(at, "\"bad-name\"");
    assert!(diagnostic.hint.is_some());
    let (_, at) = problem(
        &text,
        "`HOIST_TOKEN` cannot be passed: `HOIST_*` variables are hoist's own",
    );
    assert_eq!(at, "\"HOIST_TOKEN\"");
    problem(&text, "`NPM_TOKEN` is listed twice in `pass_env`");

    let text = with_env("[env.dev.provision]\ncommand = \"tofu output -json\"\npass_env = \"AWS\"");
    problem(&text, "`pass_env` must be a list of strings");
}
