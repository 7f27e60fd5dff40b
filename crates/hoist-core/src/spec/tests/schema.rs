//! The JSON Schema checked against real specs with a small checker for the keywords it
//! uses (not `pattern`), so the schema and the parser agree on what a spec is.

use serde_json::{Map, Value, json};

use super::super::Spec;

/// Checks `value` against the keywords this schema uses, except the regex ones; returns
/// what does not match, with a JSON-pointer-ish path.
fn check(schema: &Value, root: &Value, value: &Value, path: &str, problems: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/$defs/");
        check(&root["$defs"][name], root, value, path, problems);
    }
    if let Some(expected) = schema.get("type").and_then(Value::as_str) {
        let actual = match value {
            Value::Object(_) => "object",
            Value::Array(_) => "array",
            Value::String(_) => "string",
            Value::Number(number) if number.is_i64() || number.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::Bool(_) => "boolean",
            Value::Null => "null",
        };
        // An integer is a number too.
        if actual != expected && !(expected == "number" && actual == "integer") {
            problems.push(format!("{path}: {actual} is not {expected}"));
            return;
        }
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        problems.push(format!("{path}: {value} is not {constant}"));
    }
    let passes = |rule: &Value| {
        let mut found = Vec::new();
        check(rule, root, value, path, &mut found);
        found.is_empty()
    };
    for rule in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        check(rule, root, value, path, problems);
    }
    if let Some(options) = schema.get("anyOf").and_then(Value::as_array)
        && !options.iter().any(passes)
    {
        problems.push(format!("{path}: matches none of anyOf"));
    }
    // A `not` of a pattern cannot be judged without regexes: left alone.
    if let Some(negated) = schema.get("not")
        && negated.get("pattern").is_none()
        && passes(negated)
    {
        problems.push(format!("{}: matches `not`", shown(path)));
    }
    if let Some(condition) = schema.get("if") {
        let branch = if passes(condition) { "then" } else { "else" };
        if let Some(rule) = schema.get(branch) {
            check(rule, root, value, path, problems);
        }
    }
    if let Some(choices) = schema.get("enum").and_then(Value::as_array)
        && !choices.contains(value)
    {
        problems.push(format!("{path}: {value} not in enum"));
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = options
            .iter()
            .filter(|option| {
                let mut found = Vec::new();
                check(option, root, value, path, &mut found);
                found.is_empty()
            })
            .count();
        if matching != 1 {
            problems.push(format!("{path}: matches {matching} of oneOf"));
        }
    }
    let number = value.as_f64();
    let bound = |keyword| schema.get(keyword).and_then(Value::as_f64);
    if let (Some(minimum), Some(number)) = (bound("minimum"), number)
        && number < minimum
    {
        problems.push(format!("{path}: below minimum"));
    }
    if let (Some(maximum), Some(number)) = (bound("maximum"), number)
        && number > maximum
    {
        problems.push(format!("{path}: above maximum"));
    }
    if let Some(items) = value.as_array() {
        for (index, item) in items.iter().enumerate() {
            if let Some(item_schema) = schema.get("items") {
                check(
                    item_schema,
                    root,
                    item,
                    &format!("{path}/{index}"),
                    problems,
                );
            }
        }
    }
    if let Some(object) = value.as_object() {
        check_object(schema, root, object, path, problems);
    }
}

/// The root shows as `/`, the rest as `/service/port`.
fn shown(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

fn check_object(
    schema: &Map<String, Value>,
    root: &Value,
    object: &Map<String, Value>,
    path: &str,
    problems: &mut Vec<String>,
) {
    for required in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !object.contains_key(required.as_str().unwrap_or_default()) {
            problems.push(format!("{}: missing {required}", shown(path)));
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    for (key, item) in object {
        let item_path = format!("{path}/{key}");
        match (
            properties.and_then(|p| p.get(key)),
            schema.get("additionalProperties"),
        ) {
            (Some(property), _) => check(property, root, item, &item_path, problems),
            (None, Some(Value::Bool(false))) => problems.push(format!("{item_path}: not allowed")),
            (None, Some(additional)) => check(additional, root, item, &item_path, problems),
            (None, None) => {}
        }
    }
}

fn toml_as_json(text: &str) -> Value {
    match toml::from_str(text) {
        Ok(value) => value,
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn schema_describes_every_table() {
    let schema = Spec::json_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let properties = &schema["properties"];
    for table in ["app", "build", "hooks", "service", "config", "env"] {
        assert_eq!(properties[table]["type"], "object", "{table}");
        assert!(properties[table]["description"].is_string(), "{table}");
    }
    assert_eq!(schema["required"], json!(["app", "env"]));
    assert_eq!(
        properties["service"]["properties"]["strategy"]["enum"],
        json!(["recreate", "blue-green"])
    );
    assert_eq!(
        properties["env"]["propertyNames"]["pattern"],
        "^[a-z0-9][a-z0-9_-]{0,62}$"
    );
}

#[test]
fn starter_spec_satisfies_the_schema() {
    let schema = Spec::json_schema();
    let mut problems = Vec::new();
    check(
        &schema,
        &schema,
        &toml_as_json(&Spec::starter("hello")),
        "",
        &mut problems,
    );
    assert_eq!(problems, Vec::<String>::new());
}

#[test]
fn schema_refuses_what_the_parser_refuses() {
    let schema = Spec::json_schema();
    for (text, expected) in [
        ("[app]\nname = \"x\"\n", "/: missing \"env\""),
        (
            "[app]\nname = \"x\"\n[env.dev]\nhosts = []\nprot = 1\n",
            "/env/dev/prot: not allowed",
        ),
        (
            "[app]\nname = \"x\"\n[service]\ncommand = \"x\"\nport = 70000\n[env.dev]\nhosts = []\n",
            "/service/port: above maximum",
        ),
        (
            "[app]\nname = \"x\"\n[service]\ncommand = \"x\"\nport = 1\nstrategy = \"rolling\"\n[env.dev]\nhosts = []\n",
            "/service/strategy: \"rolling\" not in enum",
        ),
        (
            "[app]\nname = \"x\"\n[service]\ncommand = \"x\"\nport = 1\nlog_keep = 0\n[env.dev]\nhosts = []\n",
            "/service/log_keep: below minimum",
        ),
        (
            "[app]\nname = \"x\"\n[service]\ncommand = \"x\"\nport = 1\nlog_max = 10\n[env.dev]\nhosts = []\n",
            "/service/log_max: matches 0 of oneOf",
        ),
    ] {
        assert!(Spec::parse(text).is_err(), "{text}");
        let mut problems = Vec::new();
        check(&schema, &schema, &toml_as_json(text), "", &mut problems);
        assert!(
            problems.contains(&expected.to_owned()),
            "{text}: {problems:?}"
        );
    }
}

#[test]
fn schema_defaults_match_the_parser() {
    let schema = Spec::json_schema();
    let health = &schema["properties"]["service"]["properties"]["health"]["properties"];
    assert_eq!(health["interval"]["default"], "500ms");
    assert_eq!(health["deadline"]["default"], "30s");
    let service = &schema["properties"]["service"]["properties"];
    assert_eq!(service["log_max"]["default"], "10MB");
    assert_eq!(service["log_keep"]["default"], 3);
    let environment = &schema["properties"]["env"]["additionalProperties"];
    assert_eq!(environment["properties"]["keep_releases"]["default"], 5);
    assert_eq!(environment["required"], json!(["hosts"]));
}

#[test]
fn schema_describes_the_ssh_and_rollout_keys() {
    let schema = Spec::json_schema();
    let environment = &schema["properties"]["env"]["additionalProperties"]["properties"];
    for key in [
        "hosts",
        "root",
        "jump",
        "ssh_config",
        "identity",
        "host_binary",
        "connect_timeout",
        "parallel",
        "canary",
        "provision",
    ] {
        assert!(
            environment[key]["description"].is_string(),
            "`{key}` is not described"
        );
    }
    assert_eq!(environment["connect_timeout"]["default"], "10s");
    assert_eq!(environment["parallel"]["default"], 8);
    assert_eq!(environment["parallel"]["maximum"], 256);
    assert_eq!(environment["canary"]["default"], 0);
    let entry = &environment["hosts"]["items"]["oneOf"];
    assert_eq!(entry[0]["$ref"], "#/$defs/host");
    assert_eq!(entry[1]["additionalProperties"], false);
    assert_eq!(entry[1]["required"], json!(["host"]));
    assert_eq!(environment["provision"]["required"], json!(["command"]));
    assert_eq!(environment["provision"]["additionalProperties"], false);

    let text = super::ssh::SSH_SPEC;
    assert!(Spec::parse(text).is_ok());
    let mut problems = Vec::new();
    check(&schema, &schema, &toml_as_json(text), "", &mut problems);
    assert_eq!(problems, Vec::<String>::new());
}

#[test]
fn schema_refuses_what_the_parser_refuses_in_ssh_environments() {
    let schema = Spec::json_schema();
    let prod = |lines: &str| {
        format!("[app]\nname = \"x\"\n[env.prod]\nroot = \"/srv/x\"\nhosts = [\"web1\"]\n{lines}\n")
    };
    for (text, expected) in [
        (
            prod("").replace("[\"web1\"]", "[{ host = \"web1\", port = 22 }]"),
            "/env/prod/hosts/0: matches 0 of oneOf",
        ),
        (
            prod("").replace("[\"web1\"]", "[{ jump = \"b\" }]"),
            "/env/prod/hosts/0: matches 0 of oneOf",
        ),
        (prod("parallel = 0"), "/env/prod/parallel: below minimum"),
        (prod("canary = 257"), "/env/prod/canary: above maximum"),
        (
            prod("provision = { cmd = \"x\" }"),
            "/env/prod/provision: missing \"command\"",
        ),
        (
            prod("provision = { command = \"x\", shell = \"sh\" }"),
            "/env/prod/provision/shell: not allowed",
        ),
        (prod("jump = 1"), "/env/prod/jump: integer is not string"),
        (
            prod("provision = { command = \"x\", pass_env = \"AWS_KEY\" }"),
            "/env/prod/provision/pass_env: string is not array",
        ),
    ] {
        assert!(Spec::parse(&text).is_err(), "{text}");
        let mut problems = Vec::new();
        check(&schema, &schema, &toml_as_json(&text), "", &mut problems);
        assert!(
            problems.contains(&expected.to_owned()),
            "{text}: {problems:?}"
        );
    }
}

/// `[service]` with `port = 8080` and `lines`, after `build` (a `[build]` table's lines).
fn workload_spec(build: &str, lines: &str) -> String {
    let build = match build {
        "" => String::new(),
        build => format!("[build]\n{build}\n"),
    };
    format!(
        "[app]\nname = \"x\"\n{build}[service]\nport = 8080\n{lines}\n[env.dev]\nhosts = [\"local:/tmp/x\"]\n"
    )
}

#[test]
fn schema_takes_every_workload_kind() {
    let schema = Spec::json_schema();
    let container = "runtime = \"container\"\ncontainer_port = 3000";
    for text in [
        workload_spec("", "command = \"./server\""),
        workload_spec("", "runtime = \"process\"\ncommand = \"./server\""),
        workload_spec(
            "",
            &format!(
                "{container}\nimage = \"app:1\"\nengine = \"podman\"\ncommand = [\"./s\", \"--port\", \"3000\"]\nvolumes = [\"data:/d:ro\"]\nuser = \"1000:1000\"\nmemory = \"512MB\"\ncpus = 1.5\nstrategy = \"blue-green\""
            ),
        ),
        workload_spec(
            "containerfile = \"Containerfile\"\ncontext = \".\"",
            &format!("{container}\ncpus = 2\nmemory = 6291456"),
        ),
        workload_spec(
            "",
            "compose = \"compose.yml\"\nengine = \"docker\"\nstrategy = \"recreate\"",
        ),
        workload_spec("", "static = \"public\"\nproxy = \"builtin\""),
    ] {
        assert!(Spec::parse(&text).is_ok(), "{text}");
        let mut problems = Vec::new();
        check(&schema, &schema, &toml_as_json(&text), "", &mut problems);
        assert_eq!(problems, Vec::<String>::new(), "{text}");
    }
}

#[test]
fn schema_refuses_what_the_parser_refuses_per_workload() {
    let schema = Spec::json_schema();
    let container = "runtime = \"container\"\ncontainer_port = 1";
    let image = format!("{container}\nimage = \"app\"");
    for (build, lines, expected) in [
        (
            "",
            "command = \"x\"\nstatic = \"p\"".to_owned(),
            "/service: matches 2 of oneOf",
        ),
        ("", String::new(), "/service: matches 0 of oneOf"),
        (
            "",
            format!("{image}\ncompose = \"c.yml\""),
            "/service: matches `not`",
        ),
        (
            "",
            "runtime = \"process\"\nstatic = \"p\"".to_owned(),
            "/service: missing \"command\"",
        ),
        (
            "",
            "command = \"x\"\nimage = \"app\"".to_owned(),
            "/service: matches `not`",
        ),
        (
            "",
            "static = \"p\"\nengine = \"podman\"".to_owned(),
            "/service: matches none of anyOf",
        ),
        (
            "",
            "runtime = \"container\"\nimage = \"app\"".to_owned(),
            "/service: missing \"container_port\"",
        ),
        (
            "",
            format!("{image}\ncommand = \"./s\""),
            "/service/command: string is not array",
        ),
        (
            "",
            "command = [\"./s\"]".to_owned(),
            "/service/command: array is not string",
        ),
        (
            "",
            format!("{image}\ncpus = 0"),
            "/service/cpus: below minimum",
        ),
        (
            "",
            format!("{image}\nmemory = 1024"),
            "/service/memory: matches 0 of oneOf",
        ),
        (
            "",
            "compose = \"c.yml\"\nstrategy = \"blue-green\"".to_owned(),
            "/service/strategy: \"blue-green\" is not \"recreate\"",
        ),
        (
            "",
            "static = \"p\"\nstrategy = \"blue-green\"".to_owned(),
            "/service/strategy: \"blue-green\" is not \"recreate\"",
        ),
        (
            "",
            "static = \"p\"\nstop_grace = \"1s\"".to_owned(),
            "/service: matches `not`",
        ),
        (
            "",
            "static = \"p\"\nproxy = \"nginx\"".to_owned(),
            "/service/proxy: \"nginx\" is not \"builtin\"",
        ),
        (
            "containerfile = \"C\"",
            "command = \"x\"".to_owned(),
            "/service: missing \"runtime\"",
        ),
        (
            "containerfile = \"C\"",
            image.clone(),
            "/build: matches `not`",
        ),
        ("", container.to_owned(), "/: missing \"build\""),
    ] {
        let text = workload_spec(build, &lines);
        assert!(Spec::parse(&text).is_err(), "{text}");
        let mut problems = Vec::new();
        check(&schema, &schema, &toml_as_json(&text), "", &mut problems);
        assert!(
            problems.contains(&expected.to_owned()),
            "{text}: {problems:?}"
        );
    }
}
