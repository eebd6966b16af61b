//! README.md must stay true to the code: every setting is documented, with its default.

#[test]
fn readme_lists_every_setting_with_its_default() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    for (name, default, _) in portolan_config::Config::settings() {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("README.md has no row for {name}"));
        if default.is_empty() {
            assert!(row.contains("| unset |"), "{name}: {row}");
        } else {
            assert!(
                row.contains(&format!("| `{default}` |")),
                "{name} default {default}: {row}"
            );
        }
    }
    for command in ["cargo run --release -p portolan", "scripts/test"] {
        assert!(readme.contains(command), "README.md must show `{command}`");
    }
}
