//! The project's own documents follow the code (no server needed):
//!
//! - every scenario ID cited in `src/`, `tests/`, the README or `docs/`
//!   (`E11`, `F7`, a test named `m4_m5_m6_…`) is defined in
//!   docs/SCENARIOS.md, as a `### ID title` heading;
//! - every test docs/SCENARIOS.md names (`` `tests/x.rs::name` ``) still
//!   exists, in that file or in the module directory beside it
//!   (`tests/x/…`), which is where a split puts it;
//! - every scenario there names a test or says that none covers it;
//! - the relative links of README.md and docs/*.md lead to files that
//!   exist, and to headings that exist in them;
//! - comments in `src/` and `tests/` cite the design documents in `docs/`,
//!   not `DESIGN.md` (never in the repository) nor a README section that
//!   moved to `docs/`.
//!
//! The checks are plain functions, and the last test feeds them broken
//! input to show that each of them can fail.

use regex::Regex;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Files under `dir` (relative to the root) ending in `ext`, recursively,
/// as relative paths with `/`.
fn files(dir: &str, ext: &str) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, ext: &str, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, ext, out);
            } else if path.extension().is_some_and(|e| e == ext) {
                let rel = path.strip_prefix(base).unwrap();
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(&root(), &root().join(dir), ext, &mut out);
    out.sort();
    out
}

/// The documents whose text is checked: the README and docs/.
fn documents() -> Vec<String> {
    let mut docs = vec!["README.md".to_string()];
    docs.extend(files("docs", "md"));
    docs
}

// ---------------------------------------------------------------------------
// Scenario IDs

/// IDs as written in prose: `E11`, `F7`, `I1a` (sub-case a of I1). Not
/// after `%` (percent-encoding such as `%C3%A9`).
static PROSE_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^%\w])([CEFIMSTU][0-9]{1,2})[a-z]?\b").unwrap());

/// A function's name, whose leading `e4_`, `m4_m5_m6_` … cite scenarios.
static FN_NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\bfn\s+([a-z0-9_]+)").unwrap());

static FN_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([cefimstu][0-9]{1,2})[a-z]?$").unwrap());

/// Rust's integer types read like IDs at the start of a function name
/// (`u32_from_sql`); none of them is one.
const INTEGER_TYPES: [&str; 7] = ["u8", "u16", "u32", "u64", "i16", "i32", "i64"];

/// The scenario IDs a text cites, each with the line it is on.
fn cited_ids(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for cap in PROSE_ID.captures_iter(line) {
            out.push((cap[1].to_string(), n + 1));
        }
        for cap in FN_NAME.captures_iter(line) {
            for part in cap[1].split('_') {
                if INTEGER_TYPES.contains(&part) {
                    break;
                }
                match FN_ID.captures(part) {
                    Some(id) => out.push((id[1].to_uppercase(), n + 1)),
                    None => break,
                }
            }
        }
    }
    out
}

static HEADING_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^###\s+([CEFIMSTU][0-9]{1,2})\s").unwrap());

/// The IDs docs/SCENARIOS.md defines: its `### ID title` headings.
fn defined_ids(scenarios: &str) -> BTreeSet<String> {
    scenarios
        .lines()
        .filter_map(|l| HEADING_ID.captures(l).map(|c| c[1].to_string()))
        .collect()
}

/// IDs with more than one `### ID title` heading: two scenarios under one
/// name, so a citation could mean either.
fn defined_twice(scenarios: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    scenarios
        .lines()
        .filter_map(|l| HEADING_ID.captures(l).map(|c| c[1].to_string()))
        .filter(|id| !seen.insert(id.clone()))
        .collect()
}

#[test]
fn each_scenario_id_is_defined_once() {
    let twice = defined_twice(&read("docs/SCENARIOS.md"));
    assert!(
        twice.is_empty(),
        "docs/SCENARIOS.md defines these IDs more than once \
         (give the later scenario the next free ID): {twice:?}"
    );
}

/// Citations of IDs not in `defined`: "file:line: ID".
fn undefined_citations(files: &[(String, String)], defined: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for (name, text) in files {
        for (id, line) in cited_ids(text) {
            if !defined.contains(&id) {
                out.push(format!("{name}:{line}: {id}"));
            }
        }
    }
    out
}

#[test]
fn every_scenario_id_cited_is_defined_in_docs_scenarios_md() {
    let defined = defined_ids(&read("docs/SCENARIOS.md"));
    assert!(defined.len() >= 50, "docs/SCENARIOS.md defines {defined:?}");
    let mut cited = Vec::new();
    for dir in ["src", "tests"] {
        for f in files(dir, "rs") {
            cited.push((f.clone(), read(&f)));
        }
    }
    for f in documents() {
        cited.push((f.clone(), read(&f)));
    }
    let undefined = undefined_citations(&cited, &defined);
    assert!(
        undefined.is_empty(),
        "scenario IDs cited but not defined in docs/SCENARIOS.md \
         (add a `### ID title` section, or fix the citation):\n  {}",
        undefined.join("\n  ")
    );
}

// ---------------------------------------------------------------------------
// Tests named in docs/SCENARIOS.md

static NAMED_TEST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"`((?:src|tests)/[A-Za-z0-9_/]+\.rs)::([a-z0-9_]+)`").unwrap());

/// Every `` `file.rs::function` `` a text names.
fn named_tests(text: &str) -> Vec<(String, String)> {
    NAMED_TEST
        .captures_iter(text)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .collect()
}

/// Where a function is defined: the named file, or the files of the module
/// directory beside it (`tests/x.rs` → `tests/x/**`), which is where a
/// split of that file puts it. Elsewhere is an error that says where.
fn find_test(file: &str, name: &str) -> Result<(), String> {
    let defines = |rel: &str| {
        let text = std::fs::read_to_string(root().join(rel)).unwrap_or_default();
        Regex::new(&format!(r"\bfn\s+{name}\s*[(<]"))
            .unwrap()
            .is_match(&text)
    };
    let module_dir = file.trim_end_matches(".rs").trim_end_matches("/mod");
    if defines(file) || files(module_dir, "rs").iter().any(|f| defines(f)) {
        return Ok(());
    }
    let elsewhere: Vec<String> = ["src", "tests"]
        .iter()
        .flat_map(|d| files(d, "rs"))
        .filter(|f| defines(f))
        .collect();
    Err(if elsewhere.is_empty() {
        format!("{file}::{name}: no such test (renamed or removed?)")
    } else {
        format!(
            "{file}::{name}: not there; it is in {}",
            elsewhere.join(", ")
        )
    })
}

#[test]
fn every_test_named_in_docs_scenarios_md_exists() {
    let text = read("docs/SCENARIOS.md");
    let named = named_tests(&text);
    assert!(named.len() >= 100, "only {} tests named", named.len());
    let missing: Vec<String> = named
        .iter()
        .filter_map(|(file, name)| find_test(file, name).err())
        .collect();
    assert!(
        missing.is_empty(),
        "docs/SCENARIOS.md names tests that do not exist where it says:\n  {}",
        missing.join("\n  ")
    );
}

/// Scenario sections (`### ID …` up to the next heading) that name no test
/// and do not say that none covers them.
fn sections_without_a_test(scenarios: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    let mut close = |section: Option<(String, String)>| {
        if let Some((id, body)) = section {
            if named_tests(&body).is_empty() && !body.contains("No test covers") {
                out.push(id);
            }
        }
    };
    for line in scenarios.lines() {
        if line.starts_with('#') {
            close(current.take());
            current = HEADING_ID
                .captures(line)
                .map(|c| (c[1].to_string(), String::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    close(current);
    out
}

#[test]
fn every_scenario_names_a_test_or_says_none_covers_it() {
    let missing = sections_without_a_test(&read("docs/SCENARIOS.md"));
    assert!(
        missing.is_empty(),
        "scenarios in docs/SCENARIOS.md with no test and no \"No test covers\": {missing:?}"
    );
}

// ---------------------------------------------------------------------------
// Links between the documents

static LINK: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\]\(([^)\s]+)\)").unwrap());

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces
/// as `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown text's headings (outside code blocks).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.insert(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

/// Relative links of `doc` (a path relative to the root) that lead nowhere.
fn broken_links(doc: &str, text: &str) -> Vec<String> {
    let dir = Path::new(doc).parent().unwrap_or(Path::new(""));
    let mut out = Vec::new();
    for cap in LINK.captures_iter(text) {
        let target = &cap[1];
        if target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        let (path, fragment) = match target.split_once('#') {
            Some((p, f)) => (p, Some(f)),
            None => (target, None),
        };
        let file = if path.is_empty() {
            PathBuf::from(doc)
        } else {
            dir.join(path)
        };
        let full = root().join(&file);
        if !full.exists() {
            out.push(format!("{doc}: {target} (no file {})", file.display()));
            continue;
        }
        if let Some(fragment) = fragment {
            let text = std::fs::read_to_string(&full).unwrap_or_default();
            if !anchors(&text).contains(fragment) {
                out.push(format!("{doc}: {target} (no heading #{fragment})"));
            }
        }
    }
    out
}

#[test]
fn links_in_the_readme_and_docs_lead_somewhere() {
    let broken: Vec<String> = documents()
        .iter()
        .flat_map(|d| broken_links(d, &read(d)))
        .collect();
    assert!(
        broken.is_empty(),
        "broken links:\n  {}",
        broken.join("\n  ")
    );
}

// ---------------------------------------------------------------------------
// Comments that cite a design document

/// Sections the README once held and that now live in docs/; a comment
/// citing "README, Compatibility" should cite docs/COMPATIBILITY.md.
const MOVED_README_SECTIONS: [&str; 12] = [
    "Compatibility",
    "Performance",
    "Config file",
    "Choosing mailboxes",
    "Mailbox names",
    "Coming from imapsync",
    "Monitoring",
    "Many accounts",
    "Crash safety",
    "What happens when",
    "Evidence is per side",
    "How it is built",
];

/// Citations in `text` of a design file that is not in the repository
/// (`DESIGN.md`, a `SCENARIOS.md` outside docs/) or of a README section
/// that moved to docs/: "line: what".
fn stale_citations(text: &str) -> Vec<String> {
    static DESIGN: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(^|[^/\w])(DESIGN|SCENARIOS)\.md").unwrap());
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(c) = DESIGN.captures(line) {
            out.push(format!("{}: {}.md", n + 1, &c[2]));
        }
        if let Some(at) = line.find("README") {
            let near: String = line[at..].chars().take(60).collect();
            for section in MOVED_README_SECTIONS {
                if near.contains(section) {
                    out.push(format!("{}: README's {section}", n + 1));
                }
            }
        }
    }
    out
}

#[test]
fn comments_cite_the_design_documents_in_docs() {
    let mut stale = Vec::new();
    for dir in ["src", "tests"] {
        for f in files(dir, "rs") {
            if f == "tests/docs.rs" {
                continue;
            }
            for s in stale_citations(&read(&f)) {
                stale.push(format!("{f}:{s}"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "these cite a design document outside the repository, or a README \
         section that moved; point them at docs/ARCHITECTURE.md, \
         docs/SCENARIOS.md or the docs/ file that holds it now:\n  {}",
        stale.join("\n  ")
    );
}

// ---------------------------------------------------------------------------

/// Each check above reports what it is for, given input that breaks it.
#[test]
fn each_check_fails_on_broken_input() {
    let defined: BTreeSet<String> = ["E4", "M4", "I1"].map(String::from).into();
    // An ID built at run time, so that this file cites none it lacks.
    let stray = format!("E{}", 90 + 9);
    let text = format!(
        "// deletion needs proof ({stray}); see E4\n\
         fn m4_m5_renamed() {{}}\n\
         fn i1a_duplicates() {{}}\n\
         fn u32_from_sql() {{}}\n\
         let url = \"h%C3%A9st\";\n"
    );
    let undefined = undefined_citations(&[("x.rs".into(), text)], &defined);
    assert_eq!(undefined, [format!("x.rs:1: {stray}"), "x.rs:2: M5".into()]);

    assert_eq!(
        named_tests("- `tests/docs.rs::no_such_test_here` and `src/lib.rs::x`"),
        [
            ("tests/docs.rs".to_string(), "no_such_test_here".to_string()),
            ("src/lib.rs".to_string(), "x".to_string())
        ]
    );
    let gone = find_test("tests/docs.rs", "no_such_test_here").unwrap_err();
    assert!(gone.contains("no such test"), "{gone}");
    let moved = find_test("tests/cli_docs.rs", "each_check_fails_on_broken_input").unwrap_err();
    assert!(moved.contains("it is in tests/docs.rs"), "{moved}");
    find_test("tests/docs.rs", "each_check_fails_on_broken_input").unwrap();

    let scenarios = "### E4 Expunged\n- `tests/docs.rs::x`\n\
                     ### M4 Renamed\nNo test covers M4.\n\
                     ### I1 Duplicates\nprose only\n## Next\n";
    assert_eq!(sections_without_a_test(scenarios), ["I1"]);
    assert_eq!(defined_ids(scenarios), defined);
    assert_eq!(defined_twice(&format!("{scenarios}### E4 Again\n")), ["E4"]);

    let broken = broken_links(
        "README.md",
        "[a](docs/SCENARIOS.md#e4-expunged-on-one-side) [b](docs/NOPE.md) \
         [c](docs/SCENARIOS.md#no-such-heading) [d](https://example.org)",
    );
    assert_eq!(broken.len(), 2, "{broken:?}");
    assert!(broken[0].contains("NOPE.md") && broken[1].contains("#no-such-heading"));

    let comments = format!(
        "// as {d}.md says\n// see docs/{s}.md E4\n// see {s}.md\n\
         // (README, Compatibility)\n// the README's \"Exit codes\"\n",
        d = "DESIGN",
        s = "SCENARIOS"
    );
    assert_eq!(
        stale_citations(&comments),
        [
            "1: DESIGN.md",
            "3: SCENARIOS.md",
            "4: README's Compatibility"
        ]
    );
}
