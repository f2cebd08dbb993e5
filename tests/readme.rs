//! The README works when pasted: every ```sh block with a `curl` runs, in order, against a
//! real `tsapi serve` set up as `make run` sets it up (migrated database, the default demo
//! data, a read+write key in `.data/api_key`), and each answer is checked against the
//! `# ...` lines written under its command: the status, and the JSON shape, where `...`
//! stands for any value, any further members or elements, or any text inside a string.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::process::{ServerProcess, run_ok, tsapi_ok};
use common::{Schema, TestDb};
use serde_json::Value;

const README: &str = include_str!("../README.md");
/// The address the README's examples use.
const README_ADDRESS: &str = "http://127.0.0.1:8080";

/// One command of a block, with the answer documented under it.
#[derive(Debug)]
struct Step {
    command: String,
    /// The `# ` lines right under the command, joined; empty when none.
    expected: String,
}

impl Step {
    fn is_curl(&self) -> bool {
        self.command.contains("curl ")
    }
}

/// The ```sh blocks that call `curl`, split into steps. A command runs on while its lines
/// end with `\`; the comment lines right after it (no blank line between) are its answer;
/// other comments are prose.
fn curl_blocks(markdown: &str) -> Vec<Vec<Step>> {
    let mut blocks = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find("```sh\n") {
        let body = &rest[start + 6..];
        let end = body.find("```").expect("a closed code block");
        rest = &body[end + 3..];
        let block = &body[..end];
        if !block.contains("curl ") {
            continue;
        }
        blocks.push(steps(block));
    }
    blocks
}

fn steps(block: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut lines = block.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let mut command = line.to_owned();
        while command.ends_with('\\') {
            command.push('\n');
            command.push_str(lines.next().expect("a continued line"));
        }
        let mut expected = Vec::new();
        while let Some(next) = lines.peek() {
            let Some(comment) = next.trim_start().strip_prefix('#') else {
                break;
            };
            expected.push(comment.trim().to_owned());
            lines.next();
        }
        // Only curl answers are checked; comments under other commands are prose.
        let expected = if command.contains("curl ") {
            expected.join(" ")
        } else {
            String::new()
        };
        steps.push(Step { command, expected });
    }
    steps
}

/// `make run` in a directory of its own: schema, demo data, a key in `.data/`, the server.
async fn make_run(db: &TestDb, dir: &Path) -> ServerProcess {
    tsapi_ok(&["migrate"], &db.url);
    tsapi_ok(&["demo-data"], &db.url);
    let keygen = tsapi_ok(
        &["keygen", "--name", "local", "--scopes", "read+write"],
        &db.url,
    );
    let (key, entry) = keygen.split_once('\n').expect("key, then entry");
    std::fs::create_dir_all(dir.join(".data")).unwrap();
    std::fs::write(dir.join(".data/api_key"), format!("{key}\n")).unwrap();
    std::fs::write(dir.join(".data/api_keys"), entry).unwrap();
    let keys_file = [("TSAPI_API_KEYS_FILE", ".data/api_keys")];
    ServerProcess::start_with(&db.url, &keys_file, |command| {
        command
            .current_dir(dir)
            .env_remove("TSAPI_AUTH")
            .env_remove("TSAPI_PUBLIC_READS")
            .env_remove("TSAPI_API_KEYS")
            .stderr(Stdio::null());
    })
    .await
}

/// `...` in the documented answers, made into JSON the matcher knows.
const ANY: &str = "\u{1}any";
const MORE: &str = "\u{1}more";

/// The documented answer as JSON with markers: `...` as a value is [`ANY`], as an array
/// element "more elements", as an object member "more members". `None` if not JSON.
fn pattern(text: &str) -> Option<Value> {
    let mut out = String::new();
    let mut stack = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut last = ' ';
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if in_string {
            in_string = c != '"' || escaped;
            escaped = c == '\\' && !escaped;
            out.push(c);
            continue;
        }
        if text[i..].starts_with("...") {
            chars.next();
            chars.next();
            // The markers start with U+0001, escaped as JSON needs.
            out.push_str(match (last, stack.last()) {
                (':', _) => r#""\u0001any""#,
                (_, Some('[')) => r#""\u0001more""#,
                _ => r#""\u0001more":null"#,
            });
            last = '"';
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => stack.push(c),
            ']' | '}' => {
                stack.pop();
            }
            _ => {}
        }
        if !c.is_whitespace() {
            last = c;
        }
        out.push(c);
    }
    serde_json::from_str(&out).ok()
}

/// Whether `text` fits `pattern`, where `...` is any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split("...").collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Where `actual` departs from `expected`, if anywhere.
fn mismatch(expected: &Value, actual: &Value, at: &str) -> Option<String> {
    match (expected, actual) {
        (Value::String(e), _) if e == ANY => None,
        (Value::String(e), Value::String(a)) if glob(e, a) => None,
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => None,
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e.iter().filter(|(k, _)| *k != MORE) {
                let Some(actual) = a.get(key) else {
                    return Some(format!("{at}.{key} is missing"));
                };
                if let Some(m) = mismatch(value, actual, &format!("{at}.{key}")) {
                    return Some(m);
                }
            }
            if !e.contains_key(MORE)
                && let Some(extra) = a.keys().find(|k| !e.contains_key(*k))
            {
                return Some(format!("{at}.{extra} is not documented"));
            }
            None
        }
        (Value::Array(e), Value::Array(a)) => {
            let open = e.last().is_some_and(|v| v == MORE);
            let fixed = if open { &e[..e.len() - 1] } else { &e[..] };
            if a.len() < fixed.len() || (!open && a.len() != fixed.len()) {
                return Some(format!(
                    "{at} has {} elements, documented {}{}",
                    a.len(),
                    fixed.len(),
                    if open { " or more" } else { "" }
                ));
            }
            fixed
                .iter()
                .zip(a)
                .enumerate()
                .find_map(|(i, (e, a))| mismatch(e, a, &format!("{at}[{i}]")))
        }
        (e, a) if e == a => None,
        (e, a) => Some(format!("{at}: documented {e}, got {a}")),
    }
}

/// The status the documented answer implies: a problem's `status`, else 200.
fn expected_status(expected: Option<&Value>) -> u16 {
    expected
        .and_then(|v| v.get("status"))
        .and_then(Value::as_u64)
        .map_or(200, |s| s as u16)
}

/// The status of the last response whose headers curl wrote to `path`.
fn status_in(path: &Path) -> Option<u16> {
    let headers = std::fs::read_to_string(path).ok()?;
    headers
        .lines()
        .rfind(|l| l.starts_with("HTTP/"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::test]
async fn every_curl_example_in_the_readme_works_as_pasted() {
    let blocks = curl_blocks(README);
    let steps: Vec<&Step> = blocks.iter().flatten().collect();
    let curls = steps.iter().filter(|s| s.is_curl()).count();
    assert!(curls > 0, "no curl examples found");

    let db = TestDb::new(Schema::Migrated).await;
    let dir = tempdir();
    // The examples run in the repository's directory: they read its test fixtures.
    std::os::unix::fs::symlink(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests"),
        dir.join("tests"),
    )
    .unwrap();
    let server = make_run(&db, &dir).await;

    // One shell runs every step, so variables (KEY, URL) carry over as in a terminal;
    // curl is wrapped to write each response's headers to a file of that step.
    let mut script = String::from("curl() { command curl -D \"$STEP_HEADERS\" \"$@\"; }\n");
    for (i, step) in steps.iter().enumerate() {
        let command = step.command.replace(README_ADDRESS, &server.base);
        script.push_str(&format!(
            "STEP_HEADERS=headers.{i}\n{{\n{command}\n}} > out.{i} 2> err.{i}\necho $? > rc.{i}\n"
        ));
    }
    run_ok(
        Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(&dir),
    );

    let short = |text: &str| text.chars().take(400).collect::<String>();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, step) in steps.iter().enumerate() {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(format!("{name}.{i}"))).unwrap_or_default()
        };
        let (out, err, rc) = (read("out"), read("err"), read("rc"));
        let mut fail = |why: String| failures.push(format!("{}\n  -> {why}", step.command));
        if rc.trim() != "0" {
            fail(format!("exit status {}: {err}", rc.trim()));
            continue;
        }
        if !step.is_curl() {
            continue;
        }
        checked += 1;
        let expected = pattern(&step.expected);
        let want = expected_status(expected.as_ref());
        match status_in(&dir.join(format!("headers.{i}"))) {
            Some(status) if status == want => {}
            got => {
                fail(format!(
                    "status {got:?}, documented {want}: {}",
                    short(&out)
                ));
                continue;
            }
        }
        if step.expected.is_empty() {
            continue;
        }
        match (&expected, serde_json::from_str::<Value>(&out)) {
            (Some(expected), Ok(actual)) => {
                if let Some(m) = mismatch(expected, &actual, "$") {
                    fail(format!(
                        "{m}\n  documented: {}\n  answered: {out}",
                        step.expected
                    ));
                }
            }
            (Some(_), Err(e)) => fail(format!("not JSON ({e}): {}", short(&out))),
            (None, _) if glob(&step.expected, out.trim()) => {}
            (None, _) => fail(format!(
                "documented {:?}, answered {:?}",
                step.expected,
                short(&out)
            )),
        }
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "README examples that fail:\n{}",
        failures.join("\n\n")
    );
    assert_eq!(checked, curls);
    eprintln!("{checked} README curl examples ran as documented");
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tsapi-readme-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn documented_answers_are_read_as_patterns() {
    let p = pattern(r#"[{"a":1,"b":...,...}, ...]"#).unwrap();
    let ok: Value = serde_json::json!([{"a": 1, "b": [2], "c": 3}, {"x": 0}]);
    assert_eq!(mismatch(&p, &ok, "$"), None);
    let p = pattern(r#"{"a":1,"b":"x...z"}"#).unwrap();
    assert_eq!(
        mismatch(&p, &serde_json::json!({"a": 1, "b": "xyyz"}), "$"),
        None
    );
    assert!(mismatch(&p, &serde_json::json!({"a": 1, "b": "xyy"}), "$").is_some());
    assert!(mismatch(&p, &serde_json::json!({"a": 2, "b": "xz"}), "$").is_some());
    assert!(
        mismatch(&p, &serde_json::json!({"a": 1, "b": "xz", "c": 0}), "$").is_some(),
        "an undocumented member"
    );
    let closed = pattern("[1]").unwrap();
    assert!(mismatch(&closed, &serde_json::json!([1, 2]), "$").is_some());
    assert!(pattern("200 image/svg+xml").is_none());
    assert!(glob("200 image/...", "200 image/svg+xml"));
    let steps = steps("KEY=x\n\n# prose\ncurl a \\\n  b\n# {\"k\":\n#  1}\n# more\n\ncurl c\n");
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[1].command, "curl a \\\n  b");
    assert_eq!(steps[1].expected, "{\"k\": 1} more");
    assert_eq!(steps[2].expected, "");
}
