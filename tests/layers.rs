//! The layers of `src/`, held: every top-level module has a layer in
//! [`LAYERS`], and may refer only to modules of its own layer or below, never
//! in a loop. The crate is one compilation unit, so the compiler cannot say
//! when a module reaches up; this test reads the source instead (`crate::x`
//! paths and `use crate::{x, y}` groups in non-test code) and names the file
//! and line of every reference that breaks the order.
//!
//! A new module gets a line in [`LAYERS`]: the lowest layer whose modules
//! give it everything it needs. If that is above a module that wants to use
//! it, the type it offers belongs lower down (usually in `model`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module of `src/` and its layer, lowest first.
const LAYERS: &[(u8, &[&str])] = &[
    // Foundation: domain values (including what a server lists), policies,
    // units, and leaves with no domain of their own.
    (
        0,
        &[
            "model",
            "mutf7",
            "secret",
            "fingerprint",
            "header_key",
            "throttle",
            "exit",
        ],
    ),
    // Server and store access.
    (1, &["imap", "snapshot", "hashing"]),
    // The pure core: listings, snapshot and policy in, the whole Plan out.
    (2, &["plan", "reconcile", "mailbox_filter", "refusal"]),
    // I/O around the core, and the record of what apply did (`outcome`:
    // apply fills its Ledger, so it sits beside apply, not above it).
    (
        3,
        &[
            "job",
            "progress",
            "stop",
            "server_lock",
            "pool",
            "gather",
            "scrub",
            "set_aside",
            "apply",
            "action_log",
            "audit",
            "logging",
            "outcome",
        ],
    ),
    // A run from start to exit code, and what it reports.
    (4, &["report", "metrics", "reviewed", "run", "undo"]),
    // The front: the command line, the config it merges into a job, and the
    // verbs that take command-line values directly (`batch`, `snapshot`).
    (
        5,
        &[
            "cli",
            "config",
            "batch",
            "docs",
            "snapshot_verb",
            "log_verb",
        ],
    ),
];

/// One `crate::` reference found in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ref {
    /// Relative to the project root, for the message.
    file: String,
    line: usize,
    from: String,
    to: String,
}

#[test]
fn every_module_refers_only_to_its_own_layer_or_below_and_never_in_a_loop() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (modules, refs) = scan(root);
    assert!(
        modules.len() > 10 && refs.len() > 50,
        "the scan found too little ({} modules, {} references): is it reading src/?",
        modules.len(),
        refs.len()
    );
    let problems = check(LAYERS, &modules, &refs);
    assert!(
        problems.is_empty(),
        "the module layers are broken ({} problem(s)):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Everything wrong with `refs` against `layers`: modules without a layer
/// (or a layer's module gone), references to a higher layer, loops.
fn check(layers: &[(u8, &[&str])], modules: &BTreeSet<String>, refs: &[Ref]) -> Vec<String> {
    let layer_of: BTreeMap<&str, u8> = layers
        .iter()
        .flat_map(|(layer, names)| names.iter().map(move |n| (*n, *layer)))
        .collect();
    let mut problems = Vec::new();
    for m in modules {
        if !layer_of.contains_key(m.as_str()) {
            problems.push(format!(
                "src/{m}: module `{m}` has no layer: add it to LAYERS in tests/layers.rs"
            ));
        }
    }
    for m in layer_of.keys().filter(|m| !modules.contains(**m)) {
        problems.push(format!(
            "LAYERS places `{m}`, which src/ does not have: strike it from tests/layers.rs"
        ));
    }
    let mut edges: BTreeMap<(&str, &str), &Ref> = BTreeMap::new();
    for r in refs {
        if r.from == r.to {
            continue;
        }
        let (Some(&from), to) = (layer_of.get(r.from.as_str()), layer_of.get(r.to.as_str())) else {
            continue; // reported above as a module without a layer
        };
        match to {
            None if !modules.contains(&r.to) => problems.push(format!(
                "{}:{}: `crate::{}` is not a module of src/ with a layer",
                r.file, r.line, r.to
            )),
            None => {}
            Some(&to) if to > from => problems.push(format!(
                "{}:{}: `{}` (layer {from}) refers to `{}` (layer {to}), a higher layer",
                r.file, r.line, r.from, r.to
            )),
            Some(_) => {}
        }
        edges.entry((r.from.as_str(), r.to.as_str())).or_insert(r);
    }
    for component in loops(&edges) {
        let inside: Vec<String> = edges
            .iter()
            .filter(|((a, b), _)| component.contains(a) && component.contains(b))
            .map(|((a, b), r)| format!("  {a} -> {b} at {}:{}", r.file, r.line))
            .collect();
        problems.push(format!(
            "modules {} refer to each other in a loop:\n{}",
            component.iter().copied().collect::<Vec<_>>().join(", "),
            inside.join("\n")
        ));
    }
    problems
}

/// The groups of modules that each reach all the others (more than one
/// module each, as a module's references to itself are not edges).
fn loops<'a>(edges: &BTreeMap<(&'a str, &'a str), &Ref>) -> Vec<BTreeSet<&'a str>> {
    let reach = |from: &'a str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from];
        while let Some(v) = todo.pop() {
            for &(a, b) in edges.keys() {
                if a == v && seen.insert(b) {
                    todo.push(b);
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&str, BTreeSet<&str>> =
        edges.keys().map(|&(a, _)| (a, reach(a))).collect();
    let mut found: Vec<BTreeSet<&str>> = Vec::new();
    for (&v, reached) in &reaches {
        if reached.contains(v) && !found.iter().any(|c| c.contains(v)) {
            let back = |w: &&str| reaches.get(w).is_some_and(|r| r.contains(v));
            found.push(reached.iter().copied().filter(back).collect());
        }
    }
    found
}

/// The top-level modules of `src/` (its `.rs` files and directories, but for
/// `main` and `lib`) and every `crate::` reference of their non-test code.
fn scan(root: &Path) -> (BTreeSet<String>, Vec<Ref>) {
    let src = root.join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files.sort();
    let mut modules = BTreeSet::new();
    let mut test_only: BTreeSet<PathBuf> = BTreeSet::new();
    let mut read = Vec::new();
    for path in files {
        let rel: Vec<String> = path
            .strip_prefix(&src)
            .expect("under src")
            .with_extension("")
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        let top = rel[0].clone();
        if top == "main" || top == "lib" {
            continue;
        }
        modules.insert(top);
        let name = rel.last().expect("a file name").as_str();
        if name.ends_with("_tests") || name == "tests" || name == "proptests" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable source");
        let code = Code::read(&text);
        // `#[cfg(test)] mod x;` makes x.rs (or x/mod.rs) test code whatever its name.
        let dir = if name == "mod" {
            path.parent().expect("a directory").to_path_buf()
        } else {
            path.with_extension("")
        };
        for m in &code.test_modules {
            test_only.insert(dir.join(format!("{m}.rs")));
            test_only.insert(dir.join(m));
        }
        read.push((path, rel, code));
    }
    let mut refs = Vec::new();
    for (path, rel, code) in read {
        if test_only.iter().any(|t| path.starts_with(t)) {
            continue;
        }
        let file = path
            .strip_prefix(root)
            .expect("under the root")
            .display()
            .to_string();
        let depth = if rel.last().map(String::as_str) == Some("mod") {
            rel.len() - 1
        } else {
            rel.len()
        };
        for (line, to) in code.references(depth) {
            refs.push(Ref {
                file: file.clone(),
                line,
                from: rel[0].clone(),
                to,
            });
        }
    }
    (modules, refs)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// One token of code, with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    text: String,
    line: usize,
}

/// A file's code as tokens, without comments, literals' contents and
/// `#[cfg(test)]` items.
struct Code {
    tokens: Vec<Token>,
    /// Names of `#[cfg(test)] mod x;` declarations (their files are tests).
    test_modules: Vec<String>,
}

impl Code {
    fn read(text: &str) -> Code {
        let all = tokens(&strip(text));
        let mut tokens = Vec::new();
        let mut test_modules = Vec::new();
        let mut i = 0;
        if is_cfg_test(&all, 0, true) {
            return Code {
                tokens,
                test_modules,
            }; // `#![cfg(test)]`: the whole file is test code
        }
        while i < all.len() {
            if is_cfg_test(&all, i, false) {
                i = skip_item(&all, i, &mut test_modules);
            } else {
                tokens.push(all[i].clone());
                i += 1;
            }
        }
        Code {
            tokens,
            test_modules,
        }
    }

    /// `(line, module)` for each `crate::module` (and each module of a
    /// `use crate::{a, b}` group); `super::` chains that climb out of a
    /// file `depth` modules deep count as `crate::`.
    fn references(&self, depth: usize) -> Vec<(usize, String)> {
        let t = &self.tokens;
        let is = |i: usize, s: &str| t.get(i).is_some_and(|x| x.text == s);
        let mut out = Vec::new();
        let mut i = 0;
        while i < t.len() {
            let at_root = if is(i, "crate") && is(i + 1, "::") {
                Some(i + 2)
            } else if is(i, "super") && !(i > 0 && is(i - 1, "::")) {
                let mut j = i;
                let mut climbed = 0;
                while is(j, "super") && is(j + 1, "::") {
                    climbed += 1;
                    j += 2;
                }
                (climbed == depth).then_some(j)
            } else {
                None
            };
            let Some(j) = at_root else {
                i += 1;
                continue;
            };
            if is(j, "{") {
                let mut depth_in = 0;
                let mut k = j;
                while k < t.len() {
                    match t[k].text.as_str() {
                        "{" => depth_in += 1,
                        "}" => {
                            depth_in -= 1;
                            if depth_in == 0 {
                                break;
                            }
                        }
                        name if depth_in == 1
                            && (is(k - 1, "{") || is(k - 1, ","))
                            && is_ident(name)
                            && name != "self" =>
                        {
                            out.push((t[k].line, name.to_string()));
                        }
                        _ => {}
                    }
                    k += 1;
                }
                i = k;
            } else if let Some(name) = t.get(j).filter(|x| is_ident(&x.text)) {
                out.push((name.line, name.text.clone()));
                i = j;
            } else {
                i = j;
            }
        }
        out
    }
}

fn is_ident(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `#[cfg(test)]` (or `#![cfg(test)]` when `inner`) starts at `i`.
fn is_cfg_test(t: &[Token], i: usize, inner: bool) -> bool {
    let want: &[&str] = if inner {
        &["#", "!", "[", "cfg", "(", "test", ")", "]"]
    } else {
        &["#", "[", "cfg", "(", "test", ")", "]"]
    };
    t.len() >= i + want.len() && want.iter().zip(&t[i..]).all(|(w, x)| x.text == *w)
}

/// Skips the item the `#[cfg(test)]` at `i` applies to (further attributes,
/// then up to its `;` or its closing brace); notes `mod x;` names.
fn skip_item(t: &[Token], mut i: usize, test_modules: &mut Vec<String>) -> usize {
    // the attribute itself and any that follow it
    while t.get(i).is_some_and(|x| x.text == "#") {
        i += 1;
        let mut depth = 0;
        while i < t.len() {
            match t[i].text.as_str() {
                "[" => depth += 1,
                "]" => {
                    depth -= 1;
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
    let start = i;
    let mut depth = 0;
    while i < t.len() {
        match t[i].text.as_str() {
            "(" | "[" => depth += 1,
            ")" | "]" => depth -= 1,
            ";" if depth == 0 => {
                let words: Vec<&str> = t[start..i].iter().map(|x| x.text.as_str()).collect();
                if let Some(p) = words.iter().position(|w| *w == "mod") {
                    if let Some(name) = words.get(p + 1) {
                        test_modules.push(name.to_string());
                    }
                }
                return i + 1;
            }
            "{" if depth == 0 => {
                let mut braces = 0;
                while i < t.len() {
                    match t[i].text.as_str() {
                        "{" => braces += 1,
                        "}" => {
                            braces -= 1;
                            if braces == 0 {
                                return i + 1;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// Identifiers, `::` and single punctuation characters, with their lines.
fn tokens(code: &str) -> Vec<Token> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token {
                text: chars[start..i].iter().collect(),
                line,
            });
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push(Token {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            out.push(Token {
                text: c.to_string(),
                line,
            });
            i += 1;
        }
    }
    out
}

/// The text with comments and the contents of string and character
/// literals blanked (a literal becomes `""`), newlines kept so lines count
/// the same.
fn strip(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let keep_newlines = |from: &[char], out: &mut String| {
        out.extend(from.iter().filter(|&&x| x == '\n'));
    };
    let mut i = 0;
    while i < c.len() {
        let prev_ident = i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_');
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let start = i;
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            keep_newlines(&c[start..i.min(c.len())], &mut out);
        } else if !prev_ident && raw_string_at(&c, i).is_some() {
            let (hashes, body) = raw_string_at(&c, i).expect("checked");
            let start = i;
            i = body;
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            while i < c.len() && !c[i..].starts_with(&close) {
                i += 1;
            }
            i = (i + close.len()).min(c.len());
            keep_newlines(&c[start..i], &mut out);
            out.push_str("\"\"");
        } else if c[i] == '"' {
            let start = i;
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i = (i + 1).min(c.len());
            keep_newlines(&c[start..i], &mut out);
            out.push_str("\"\"");
        } else if c[i] == '\'' && c.get(i + 1) == Some(&'\\') {
            // an escaped character literal: '\n', '\'', '\u{1F600}'
            i += 2;
            while i < c.len() && c[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
            i += 3; // 'x' (a lifetime 'a has no closing quote there)
            out.push_str("' '");
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// At `r"`, `r#"`, `br"` …: the number of `#` and where the body starts.
fn raw_string_at(c: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if c.get(j) == Some(&'b') {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while c.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (c.get(j) == Some(&'"')).then_some((hashes, j + 1))
}

#[test]
fn the_check_reports_a_higher_layer_a_loop_and_a_module_without_a_layer() {
    let layers: &[(u8, &[&str])] = &[(0, &["low"]), (1, &["left", "right"])];
    let modules: BTreeSet<String> = ["low", "left", "right", "stray"]
        .into_iter()
        .map(String::from)
        .collect();
    let r = |from: &str, to: &str, line| Ref {
        file: format!("src/{from}.rs"),
        line,
        from: from.into(),
        to: to.into(),
    };
    let good = [r("left", "low", 1), r("left", "right", 2)];
    assert_eq!(
        check(layers, &modules, &good),
        ["src/stray: module `stray` has no layer: add it to LAYERS in tests/layers.rs"]
    );
    let modules: BTreeSet<String> = modules.into_iter().filter(|m| m != "stray").collect();
    assert!(check(layers, &modules, &good).is_empty());
    let gone: BTreeSet<String> = modules.iter().filter(|m| *m != "right").cloned().collect();
    assert_eq!(
        check(layers, &gone, &[]),
        ["LAYERS places `right`, which src/ does not have: strike it from tests/layers.rs"]
    );

    let upward = [r("low", "left", 7)];
    assert_eq!(
        check(layers, &modules, &upward),
        ["src/low.rs:7: `low` (layer 0) refers to `left` (layer 1), a higher layer"]
    );

    let loop_ = [r("left", "right", 3), r("right", "left", 4)];
    assert_eq!(
        check(layers, &modules, &loop_),
        ["modules left, right refer to each other in a loop:\n  \
         left -> right at src/left.rs:3\n  right -> left at src/right.rs:4"]
    );

    let unknown = [r("left", "nowhere", 5)];
    assert_eq!(
        check(layers, &modules, &unknown),
        ["src/left.rs:5: `crate::nowhere` is not a module of src/ with a layer"]
    );
}

#[test]
fn the_scan_reads_paths_and_use_groups_but_not_comments_strings_or_tests() {
    let text = r##"//! Docs name [`crate::comment_doc`].
use crate::model::Side;
use crate::{exit, plan::{Copy, Plan}, self};
/* crate::block_comment /* nested crate::nested */ */
pub(crate) fn f<'a>(x: &'a str) -> char {
    let _ = "crate::in_string \" crate::escaped";
    let _ = r#"crate::raw " crate::raw_too"#;
    let _ = 'x';
    let _ = '\'';
    crate::progress::finish(); // crate::line_comment
    super::super::climbed::it();
    'y'
}
#[cfg(test)]
use crate::test_use;
#[cfg(test)]
#[allow(dead_code)]
fn helper() { crate::test_fn::x(); }
#[cfg(test)]
mod tests {
    use crate::test_mod::Thing;
    fn g() { crate::test_mod::y() }
}
#[cfg(test)]
mod extra_tests;
const N: usize = crate::after::N;
"##;
    let code = Code::read(text);
    let found: Vec<(usize, String)> = code.references(2);
    let want: Vec<(usize, String)> = [
        (2, "model"),
        (3, "exit"),
        (3, "plan"),
        (10, "progress"),
        (11, "climbed"),
        (26, "after"),
    ]
    .into_iter()
    .map(|(l, m)| (l, m.to_string()))
    .collect();
    assert_eq!(found, want);
    assert_eq!(code.test_modules, ["extra_tests"]);
    assert!(Code::read("#![cfg(test)]\nuse crate::x;\n")
        .references(1)
        .is_empty());
    // one level too few: `super::climbed` stays inside its own module
    assert!(Code::read("super::climbed::it();").references(2).is_empty());
}
