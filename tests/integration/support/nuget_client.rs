//! The real NuGet V3 client, NuGet.exe 5.8.0 on mono (`$DEPOT_TEST_NUGET`, a wrapper script
//! `.ci/run` writes), with an isolated HOME, and a builder for `.nupkg` files made in the test.
//!
//! NuGet.exe's default configuration names the public gallery, so every command gets
//! `-ConfigFile` with a `NuGet.Config` that starts with `<clear/>`, and an explicit `-Source`.
//! It caches the service index under `$HOME/.local/share/NuGet/v3-cache`: one runner per
//! Depot, never shared across tests.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::Output;

use tokio::process::Command;

/// The `nuget` wrapper (`mono nuget-5.8.0.exe "$@"`).
pub fn nuget_bin() -> String {
    std::env::var("DEPOT_TEST_NUGET").unwrap_or_else(|_| "nuget".into())
}

/// NuGet.exe against one repository endpoint.
pub struct NuGet {
    /// `<endpoint>v3/index.json`.
    pub source: String,
    /// The isolated HOME (mono's key store for encrypted passwords lives here too).
    pub home: PathBuf,
    /// The `NuGet.Config` passed as `-ConfigFile` (`sources add` writes credentials into it).
    pub config: PathBuf,
    _tmp: tempfile::TempDir,
}

impl NuGet {
    /// A runner for the repository endpoint `endpoint` (ending in `/`).
    pub fn new(endpoint: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let config = tmp.path().join("NuGet.Config");
        std::fs::write(
            &config,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <packageSources>\n    <clear />\n  \
             </packageSources>\n</configuration>\n",
        )
        .unwrap();
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        Self { source: format!("{endpoint}v3/index.json"), home, config, _tmp: tmp }
    }

    /// A runner whose HOME is `home` and whose config is the user-level one there (on mono,
    /// `~/.config/NuGet/NuGet.Config`: what `aws codeartifact login --tool nuget` edits through
    /// `nuget sources add`), created with `<clear/>` if it does not exist.
    pub fn with_home(endpoint: &str, home: &Path) -> Self {
        let mut me = Self::new(endpoint);
        let dir = home.join(".config/NuGet");
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("NuGet.Config");
        if !config.exists() {
            std::fs::copy(&me.config, &config).unwrap();
        }
        me.home = home.to_path_buf();
        me.config = config;
        me
    }

    /// A directory holding only a `nuget` program (the wrapper), to put first on PATH for
    /// `aws codeartifact login --tool nuget`.
    pub fn bin_dir(&self) -> PathBuf {
        let dir = self._tmp.path().join("bin");
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.join("nuget");
        if !link.exists() {
            std::os::unix::fs::symlink(Path::new(&nuget_bin()), &link)
                .expect("link nuget (set DEPOT_TEST_NUGET to the NuGet.exe wrapper)");
        }
        dir
    }

    /// Runs `nuget <args> -ConfigFile <config> -NonInteractive` with the isolated HOME.
    pub async fn run(&self, args: &[&str]) -> Output {
        Command::new(nuget_bin())
            .args(args)
            .arg("-ConfigFile")
            .arg(&self.config)
            .arg("-NonInteractive")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .current_dir(self._tmp.path())
            .output()
            .await
            .expect("run nuget (install mono-complete and NuGet.exe, or set DEPOT_TEST_NUGET; see .ci/run)")
    }

    /// Runs and expects success; returns stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        let text = output_text(&out);
        assert!(out.status.success(), "nuget {args:?} failed:\n{text}");
        text
    }

    /// Runs and expects failure; returns stdout and stderr together (NuGet.exe prints its
    /// errors on either).
    pub async fn err(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        let text = output_text(&out);
        assert!(!out.status.success(), "nuget {args:?} unexpectedly succeeded:\n{text}");
        text
    }

    /// `nuget sources add` of this endpoint with the token, as `aws codeartifact login
    /// --tool nuget` does (user `aws`; mono encrypts the password in the config).
    pub async fn sources_add(&self, token: &str) -> String {
        self.ok(&["sources", "add", "-Name", "depot", "-Source", &self.source, "-Username", "aws", "-Password", token])
            .await
    }

    /// `nuget install <id> -Version <version> -OutputDirectory <dir> -Source <endpoint>`.
    pub async fn install(&self, id: &str, version: &str, dir: &Path) -> Output {
        let dir = dir.to_str().unwrap();
        self.run(&["install", id, "-Version", version, "-OutputDirectory", dir, "-Source", &self.source]).await
    }

    /// `nuget push <file> -Source <endpoint> -ApiKey <key>`.
    pub async fn push(&self, file: &Path, api_key: &str) -> Output {
        self.run(&["push", file.to_str().unwrap(), "-Source", &self.source, "-ApiKey", api_key]).await
    }
}

/// stdout then stderr, lossy.
pub fn output_text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A dependency group: target framework (`None`: ungrouped) and `(id, version)` pairs.
type Group = (Option<String>, Vec<(String, String)>);

/// A valid `.nupkg` built in the test: the nuspec, `lib/netstandard2.0/<id>.dll` (a
/// placeholder), `[Content_Types].xml` and `_rels/.rels`, as `nuget pack` lays them out.
pub struct Nupkg {
    id: String,
    version: String,
    description: String,
    groups: Vec<Group>,
    readme: Option<String>,
    extra: Vec<(String, Vec<u8>)>,
}

impl Nupkg {
    /// A package without dependencies.
    pub fn new(id: &str, version: &str) -> Self {
        Self {
            id: id.into(),
            version: version.into(),
            description: format!("{id} {version}, built by a Depot test"),
            groups: Vec::new(),
            readme: None,
            extra: Vec::new(),
        }
    }

    /// Another description (so two builds of one version differ in content).
    pub fn description(mut self, d: &str) -> Self {
        self.description = d.into();
        self
    }

    /// A dependency in the group for `framework` (`None`: ungrouped); `version` as a nuspec
    /// writes it (`1.0.0`, `[1.0,2.0)`).
    pub fn dependency(mut self, framework: Option<&str>, id: &str, version: &str) -> Self {
        let fw = framework.map(str::to_string);
        match self.groups.iter_mut().find(|(f, _)| *f == fw) {
            Some((_, deps)) => deps.push((id.into(), version.into())),
            None => self.groups.push((fw, vec![(id.into(), version.into())])),
        }
        self
    }

    /// A `README.md` in the package, named by the nuspec's `<readme>`.
    pub fn readme(mut self, text: &str) -> Self {
        self.readme = Some(text.into());
        self
    }

    /// Another file in the package (stored uncompressed, so its size is the package's).
    pub fn file(mut self, name: &str, bytes: Vec<u8>) -> Self {
        self.extra.push((name.into(), bytes));
        self
    }

    /// The nuspec document.
    pub fn nuspec(&self) -> String {
        let mut deps = String::new();
        let grouped = self.groups.iter().any(|(f, _)| f.is_some());
        for (fw, list) in &self.groups {
            let items: String =
                list.iter().map(|(id, v)| format!("<dependency id=\"{id}\" version=\"{v}\" />")).collect();
            match (grouped, fw) {
                (true, Some(f)) => deps.push_str(&format!("<group targetFramework=\"{f}\">{items}</group>")),
                (true, None) => deps.push_str(&format!("<group>{items}</group>")),
                (false, _) => deps.push_str(&items),
            }
        }
        let deps = if deps.is_empty() { String::new() } else { format!("<dependencies>{deps}</dependencies>") };
        let readme = if self.readme.is_some() { "<readme>README.md</readme>" } else { "" };
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<package xmlns=\"http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd\">\n  \
             <metadata>\n    <id>{id}</id>\n    <version>{v}</version>\n    <authors>Depot tests</authors>\n    \
             <description>{d}</description>\n    <license type=\"expression\">MIT</license>\n    {readme}\n    {deps}\n  \
             </metadata>\n</package>\n",
            id = self.id,
            v = self.version,
            d = self.description,
        )
    }

    /// The `.nupkg` bytes.
    pub fn build(&self) -> Vec<u8> {
        let opts = zip::write::SimpleFileOptions::default();
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let mut add = |name: &str, data: &[u8]| {
            w.start_file(name, opts).unwrap();
            w.write_all(data).unwrap();
        };
        add(
            "_rels/.rels",
            b"<?xml version=\"1.0\" encoding=\"utf-8\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
              <Relationship Type=\"http://schemas.microsoft.com/packaging/2010/07/manifest\" Target=\"/pkg.nuspec\" Id=\"R1\" /></Relationships>",
        );
        add(
            "[Content_Types].xml",
            b"<?xml version=\"1.0\" encoding=\"utf-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
              <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\" />\
              <Default Extension=\"nuspec\" ContentType=\"application/octet\" />\
              <Default Extension=\"dll\" ContentType=\"application/octet\" />\
              <Default Extension=\"md\" ContentType=\"application/octet\" /></Types>",
        );
        add(&format!("{}.nuspec", self.id), self.nuspec().as_bytes());
        add(&format!("lib/netstandard2.0/{}.dll", self.id), b"placeholder, not an assembly");
        if let Some(r) = &self.readme {
            add("README.md", r.as_bytes());
        }
        let stored = opts.compression_method(zip::CompressionMethod::Stored);
        for (name, bytes) in &self.extra {
            w.start_file(name.as_str(), stored).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    /// Writes the package as `<dir>/<id>.<version>.nupkg` and returns the path.
    pub fn write_to(&self, dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join(format!("{}.{}.nupkg", self.id.to_lowercase(), self.version.to_lowercase()));
        std::fs::write(&path, self.build()).unwrap();
        path
    }
}
