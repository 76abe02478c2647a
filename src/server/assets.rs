//! The browser bundle under `/pkg`. cargo-leptos (`hash-files = true`) names its files
//! `pixzoo.<hash>.css|js|wasm` and lists the hashes in `hash.txt` beside the server binary; a copy in
//! the site directory wins, so a site can be deployed with its own list. Leptos reads the list to link
//! the page. A release build with `--precompress` writes `.br` and `.gz` copies next to each file. A
//! hashed name never changes meaning, so those files are immutable for a year.

use std::path::{Path, PathBuf};

/// The hashed bundle a server was built with.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// `hash.txt`, absolute (Leptos joins it to the binary's directory).
    pub hash_file: PathBuf,
    /// The file names it lists, each present under the site's `pkg` directory.
    pub files: Vec<String>,
}

impl Bundle {
    /// The bundle listed in `{site_root}/hash.txt` or beside the running binary, if its files are in
    /// the site's `pkg`. A build without hashing, or a binary moved away from its `hash.txt`, has
    /// none: the page then links the plain names.
    pub fn find(site_root: &Path, output_name: &str) -> Option<Self> {
        let beside_binary = std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.join("hash.txt")));
        let hash_file = std::iter::once(site_root.join("hash.txt"))
            .chain(beside_binary)
            .find(|path| path.is_file())?;
        let hash_file = std::path::absolute(&hash_file).unwrap_or(hash_file);
        let listed = std::fs::read_to_string(&hash_file).ok()?;
        let bundle = Self::parse(&listed, output_name, hash_file)?;
        let pkg_dir = site_root.join("pkg");
        let missing: Vec<_> = bundle
            .files
            .iter()
            .filter(|name| !pkg_dir.join(name).is_file())
            .collect();
        if missing.is_empty() {
            return Some(bundle);
        }
        tracing::warn!(
            pkg = %pkg_dir.display(),
            ?missing,
            "hash.txt names files the site does not have (a site from another build?); linking the plain names"
        );
        None
    }

    fn parse(listed: &str, output_name: &str, hash_file: PathBuf) -> Option<Self> {
        let files: Vec<String> = listed
            .lines()
            .filter_map(|line| line.split_once(':'))
            .filter(|(ext, _)| matches!(ext.trim(), "css" | "js" | "wasm"))
            .map(|(ext, hash)| format!("{output_name}.{}.{}", hash.trim(), ext.trim()))
            .collect();
        (!files.is_empty()).then_some(Self { hash_file, files })
    }

    /// Whether `/pkg/{name}` is one of the hashed files (or a precompressed copy of one).
    pub fn is_hashed(&self, name: &str) -> bool {
        let name = name
            .strip_suffix(".br")
            .or_else(|| name.strip_suffix(".gz"))
            .unwrap_or(name);
        self.files.iter().any(|file| file == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_file_names_the_hashed_files() {
        let bundle = Bundle::parse(
            "js: abc\nwasm: def\ncss: ghi\n",
            "pixzoo",
            PathBuf::from("/x/hash.txt"),
        )
        .unwrap();
        assert_eq!(
            bundle.files,
            ["pixzoo.abc.js", "pixzoo.def.wasm", "pixzoo.ghi.css"]
        );
        assert!(bundle.is_hashed("pixzoo.ghi.css"));
        assert!(bundle.is_hashed("pixzoo.def.wasm"));
        assert!(!bundle.is_hashed("pixzoo.css"));
        assert!(Bundle::parse("", "pixzoo", PathBuf::new()).is_none());
    }
}
