//! `[[variant]]` overrides: dotted key paths set on the TOML document before validation.
//!
//! `"upstream.api.workers" = 4` walks table `upstream` (an array of tables), picks the element
//! whose `name` is `api` (or an index: `upstream.0.workers`), and sets `workers`. The value
//! replaces whatever was there (a table is replaced whole, not merged).

/// Applies every `path = value` of `set` to `doc`.
pub fn apply(doc: &mut toml::Table, set: &toml::Table) -> Result<(), String> {
    for (path, value) in set {
        let parts: Vec<&str> = path.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(format!("bad key path {path:?}"));
        }
        set_path(doc, &parts, value.clone()).map_err(|e| format!("{path:?}: {e}"))?;
    }
    Ok(())
}

fn set_path(table: &mut toml::Table, parts: &[&str], value: toml::Value) -> Result<(), String> {
    let (first, rest) = parts.split_first().ok_or("empty key path")?;
    if rest.is_empty() {
        table.insert((*first).to_string(), value);
        return Ok(());
    }
    let entry = table
        .entry((*first).to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match entry {
        toml::Value::Table(t) => set_path(t, rest, value),
        toml::Value::Array(items) => {
            let sel = rest[0];
            let idx = items
                .iter()
                .position(|it| it.get("name").and_then(|n| n.as_str()) == Some(sel))
                .or_else(|| sel.parse::<usize>().ok().filter(|i| *i < items.len()))
                .ok_or_else(|| format!("no [[{first}]] named {sel:?}"))?;
            if rest.len() == 1 {
                items[idx] = value;
                return Ok(());
            }
            match &mut items[idx] {
                toml::Value::Table(t) => set_path(t, &rest[1..], value),
                _ => Err(format!("{first}.{sel} is not a table")),
            }
        }
        _ => Err(format!("{first} is not a table")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_nested_and_named_array_entries() {
        let mut doc: toml::Table = toml::from_str(
            "[proxy]\nkind = \"proxylab\"\n[[upstream]]\nname = \"api\"\nworkers = 1\n[[upstream]]\nname = \"b\"\n",
        )
        .unwrap();
        let set: toml::Table =
            toml::from_str("\"proxy.kind\" = \"nginx\"\n\"upstream.api.workers\" = 4\n\"upstream.1.instances\" = 2\n\"loadgen.threads\" = 1\n")
                .unwrap();
        apply(&mut doc, &set).unwrap();
        assert_eq!(doc["proxy"]["kind"].as_str(), Some("nginx"));
        assert_eq!(doc["upstream"][0]["workers"].as_integer(), Some(4));
        assert_eq!(doc["upstream"][1]["instances"].as_integer(), Some(2));
        assert_eq!(doc["loadgen"]["threads"].as_integer(), Some(1));
        let bad: toml::Table = toml::from_str("\"upstream.zz.workers\" = 4").unwrap();
        assert!(apply(&mut doc, &bad).unwrap_err().contains("zz"));
    }
}
