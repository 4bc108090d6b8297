//! The nginx.conf reader: the lexer and tree builder (`conf::lexer`), and the whole load with
//! nginx's `-t` checks (`conf::build::load`). Invariant: a tree without errors, printed back
//! (every word quoted and escaped), parses to the same tree.

use proxylab_proxy::conf::build::load;
use proxylab_proxy::conf::lexer::{Item, parse_file};

/// A directive tree without positions: (name, args, children).
#[derive(Debug, PartialEq, Eq)]
struct Node(String, Vec<String>, Option<Vec<Node>>);

/// Loads `data` as `nginx.conf` in a private prefix. Inputs that name device or process
/// files, or `include` anything, are skipped (they would read outside the input).
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if ["include", "/dev", "/proc", "/sys"]
        .iter()
        .any(|s| text.contains(s))
    {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, data).expect("write");
    if let Err(e) = load(&path, Some(dir.path())) {
        assert!(!e.msg.is_empty(), "an error without a message");
    }
    let Ok(items) = parse_file(&path, dir.path()) else {
        return;
    };
    let Some(tree) = nodes(&items) else {
        return;
    };
    let mut printed = String::new();
    print(&tree, &mut printed);
    let again_path = dir.path().join("again.conf");
    std::fs::write(&again_path, &printed).expect("write");
    let again = parse_file(&again_path, dir.path()).expect("printed config parses");
    assert_eq!(nodes(&again).as_ref(), Some(&tree), "printed:\n{printed}");
}

/// The tree of `items`; None when it holds an error.
fn nodes(items: &[Item]) -> Option<Vec<Node>> {
    items
        .iter()
        .map(|i| match i {
            Item::Dir(d) => {
                let block = match &d.block {
                    Some(b) => Some(nodes(b)?),
                    None => None,
                };
                Some(Node(d.name.clone(), d.args.clone(), block))
            }
            Item::Error(_) => None,
        })
        .collect()
}

fn print(tree: &[Node], out: &mut String) {
    for Node(name, args, block) in tree {
        for w in std::iter::once(name).chain(args) {
            out.push('"');
            for c in w.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push_str("\" ");
        }
        match block {
            Some(b) => {
                out.push_str("{\n");
                print(b, out);
                out.push_str("}\n");
            }
            None => out.push_str(";\n"),
        }
    }
}
