//! The module layers of the core and actors crates, checked from their source: no
//! top-level module of `core/src/` or `actors/src/` names a module listed after it in the
//! layer list of its crate's `src/lib.rs` documentation (so neither crate has an import
//! cycle among its modules), and no source or test file of those crates or of this
//! package runs past 600 lines without saying why on its first line.
//!
//! The check reads the source text, not the compiler's view: every `crate::x`, grouped
//! `crate::{x, y}`, `super::` path that climbs to the crate root, and name re-exported by
//! `lib.rs` (`crate::Engine` is `engine`) counts as a reference to `x`, in code and in
//! tests alike. Comments and string literals do not count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Above this many lines a file says why on its first line: `// Over 600 lines: <why>`.
const FILE_LINES_MAX: usize = 600;
const LONG_FILE_MARK: &str = "// Over 600 lines: ";

/// The crates whose modules are layered: each `lib.rs` documents its layer list.
const LAYERED_CRATES: [&str; 2] = ["core", "actors"];

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The layer list of `lib.rs`'s documentation: lines `//! N. `module`: ...`, lowest first.
fn layer_order(lib: &str) -> Vec<String> {
    let mut order = Vec::new();
    for line in lib.lines() {
        let Some(rest) = line.strip_prefix("//!") else {
            continue;
        };
        let rest = rest.trim_start();
        let Some((number, item)) = rest.split_once(". `") else {
            continue;
        };
        let Ok(n) = number.parse::<usize>() else {
            continue;
        };
        let name = item.split('`').next().expect("a name");
        assert_eq!(
            n,
            order.len() + 1,
            "lib.rs: the layer list is numbered 1, 2, 3...; `{name}` is numbered {n}"
        );
        order.push(name.to_string());
    }
    assert!(!order.is_empty(), "lib.rs documents no layer list");
    order
}

/// The module path of a source file below `src/` (`saga/start.rs` is `[saga, start]`,
/// `saga/mod.rs` is `[saga]`).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("a file below src/");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.strip_suffix(".rs").expect("a .rs file");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// `text` with every comment and every string or character literal blanked out (their
/// newlines kept, so that line numbers stay right).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&chars, i) {
            // A raw string: r"...", r#"..."#, ...
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let close: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let body: String = chars[j + 1..].iter().collect();
            let end = body.find(&close).map_or(chars.len(), |k| {
                j + 1 + body[..k].chars().count() + close.len()
            });
            for &ch in &chars[i..end] {
                out.push(blank(ch));
            }
            i = end;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A character literal ('a', '\n', '\u{..}'), or else a lifetime ('a).
            let end = if next == Some('\\') {
                (i + 2..chars.len()).find(|&k| chars[k] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    for _ in i..=end {
                        out.push(' ');
                    }
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// One reference from a file to a top-level module, or a root-level name.
struct Reference {
    line: usize,
    name: String,
}

/// The crate-root names `code` refers to, given the module path of its file: the first
/// segment after `crate::` (each item of a group `crate::{a, b::c}` counts), or after as
/// many `super::` as climb to the crate root.
fn root_references(code: &str, module: &[String]) -> Vec<Reference> {
    let chars: Vec<char> = code.chars().collect();
    let mut refs = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\n' {
            line += 1;
            i += 1;
            continue;
        }
        let at_word_start = !ident_before(&chars, i);
        let rest = || chars[i..].iter().take(64).collect::<String>();
        let root_after = if at_word_start && rest().starts_with("crate") {
            skip_path_sep(&chars, i + "crate".len())
        } else if at_word_start && rest().starts_with("super") {
            // `super` climbs one module per use; only a path that reaches the root counts.
            let mut depth = module.len();
            let mut j = i;
            let mut reached = None;
            while chars[j..].iter().take(5).collect::<String>() == "super" {
                match skip_path_sep(&chars, j + "super".len()) {
                    Some(after) => {
                        depth = depth.saturating_sub(1);
                        j = after;
                        if depth == 0 {
                            reached = Some(after);
                            break;
                        }
                    }
                    None => break,
                }
            }
            reached
        } else {
            None
        };
        let Some(start) = root_after else {
            i += 1;
            continue;
        };
        if chars.get(start) == Some(&'{') {
            let mut depth = 0;
            let mut k = start;
            let mut item_start = true;
            let mut group_line = line;
            while k < chars.len() {
                match chars[k] {
                    '{' => {
                        depth += 1;
                        item_start = depth == 1;
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    '\n' => group_line += 1,
                    c if item_start && depth == 1 && (c.is_alphabetic() || c == '_') => {
                        let name = ident_at(&chars, k);
                        refs.push(Reference {
                            line: group_line,
                            name: name.clone(),
                        });
                        item_start = false;
                        k += name.chars().count();
                        continue;
                    }
                    _ => {}
                }
                k += 1;
            }
        } else if chars
            .get(start)
            .is_some_and(|c| c.is_alphabetic() || *c == '_')
        {
            refs.push(Reference {
                line,
                name: ident_at(&chars, start),
            });
        }
        i = start.max(i + 1);
    }
    refs
}

/// After `::` (spaces allowed around it) at `i`, where the path goes on.
fn skip_path_sep(chars: &[char], mut i: usize) -> Option<usize> {
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    if chars.get(i) != Some(&':') || chars.get(i + 1) != Some(&':') {
        return None;
    }
    i += 2;
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    Some(i)
}

fn ident_at(chars: &[char], i: usize) -> String {
    chars[i..]
        .iter()
        .take_while(|c| c.is_alphanumeric() || **c == '_')
        .collect()
}

/// The names `lib.rs` re-exports (`pub use x::...::{A, B as C}`), and the top-level
/// module each comes from.
fn reexports(lib_code: &str) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for statement in lib_code.split(';') {
        let Some(path) = statement.trim().strip_prefix("pub use ") else {
            continue;
        };
        let module = path.split("::").next().expect("a path").trim().to_string();
        let last = path.rsplit("::").next().expect("a path");
        let items = last.trim().trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let name = item.rsplit(" as ").next().expect("a name").trim();
            names.insert(name.to_string(), module.clone());
        }
    }
    names
}

/// Every upward reference, as "`from` (layer i) names `to` (layer j) at file:line".
fn upward_references(src: &Path) -> Vec<String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let order = layer_order(&lib);
    let rank: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i + 1))
        .collect();
    let reexported = reexports(&code_only(&lib));
    let mut modules = BTreeSet::new();
    let mut upward = Vec::new();
    for file in rust_files(src) {
        let module = module_path(src, &file);
        let Some(top) = module.first().cloned() else {
            continue; // lib.rs: it declares and re-exports every module.
        };
        modules.insert(top.clone());
        let from = *rank.get(top.as_str()).unwrap_or_else(|| {
            panic!("src/{top} is not in lib.rs's layer list: give it its place in the order")
        });
        let text = std::fs::read_to_string(&file).expect("a source file");
        for reference in root_references(&code_only(&text), &module) {
            let target = if rank.contains_key(reference.name.as_str()) {
                reference.name.clone()
            } else if let Some(module) = reexported.get(&reference.name) {
                module.clone()
            } else {
                continue; // Not a module of this crate (a macro's path, `crate::self`...).
            };
            let to = rank[target.as_str()];
            if to > from {
                upward.push(format!(
                    "`{top}` (layer {from}) names `{target}` (layer {to}) at {}:{}: `{}`",
                    file.strip_prefix(src.parent().expect("the crate"))
                        .expect("below the crate")
                        .display(),
                    reference.line,
                    reference.name,
                ));
            }
        }
    }
    for listed in &order {
        assert!(
            modules.contains(listed),
            "lib.rs lists `{listed}` as a layer, but src/ has no such module"
        );
    }
    upward
}

#[test]
fn no_module_names_a_module_of_a_higher_layer() {
    for krate in LAYERED_CRATES {
        let upward = upward_references(&workspace().join(krate).join("src"));
        assert!(
            upward.is_empty(),
            "{krate}: references from a lower layer to a higher one (see the layer list in \
             {krate}/src/lib.rs; invert them with a trait, callback or message owned by the \
             lower layer):\n{}",
            upward.join("\n")
        );
    }
}

#[test]
fn long_files_say_why_on_their_first_line() {
    let krate = workspace();
    let mut unexplained = Vec::new();
    let mut dirs = vec![krate.join("src"), krate.join("tests")];
    for layered in LAYERED_CRATES {
        dirs.push(krate.join(layered).join("src"));
        dirs.push(krate.join(layered).join("tests"));
    }
    for file in dirs.iter().flat_map(|d| rust_files(d)) {
        let text = std::fs::read_to_string(&file).expect("a source file");
        let lines = text.lines().count();
        let first = text.lines().next().unwrap_or("");
        let explained = first
            .strip_prefix(LONG_FILE_MARK)
            .is_some_and(|why| !why.trim().is_empty());
        if lines > FILE_LINES_MAX && !explained {
            unexplained.push(format!(
                "{}: {lines} lines",
                file.strip_prefix(krate).expect("below the crate").display()
            ));
        }
    }
    assert!(
        unexplained.is_empty(),
        "files over {FILE_LINES_MAX} lines without `{LONG_FILE_MARK}<why>` on their first \
         line:\n{}",
        unexplained.join("\n")
    );
}

#[test]
fn the_reference_reader_sees_what_it_must() {
    let module = vec!["saga".to_string(), "start".to_string()];
    let code = code_only(
        "use crate::ledger::X;\n\
         use crate::{api::Y, error};\n\
         // use crate::engine::Z;\n\
         let s = \"crate::shard\";\n\
         use super::super::supervisors::W;\n\
         use super::driver::drive;\n\
         fn f<'a>(c: char) -> bool { c == '\"' || crate :: engine::go() }\n",
    );
    let names: Vec<(usize, String)> = root_references(&code, &module)
        .into_iter()
        .map(|r| (r.line, r.name))
        .collect();
    assert_eq!(
        names,
        vec![
            (1, "ledger".to_string()),
            (2, "api".to_string()),
            (2, "error".to_string()),
            (5, "supervisors".to_string()),
            (7, "engine".to_string()),
        ]
    );
    let lib =
        code_only("pub use api::{A, B};\npub use ledger::codec::describe as describe_record;\n");
    let reexported = reexports(&lib);
    assert_eq!(reexported["A"], "api");
    assert_eq!(reexported["describe_record"], "ledger");
}
