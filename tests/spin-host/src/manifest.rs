//! The part of a Spin manifest (`spin_manifest_version = 2`) this host understands: HTTP
//! triggers, components with a local `source`, `sqlite_databases`, component `variables` as
//! templates over the application's `[variables]`, `files` as `{ source = "<folder>",
//! destination = "/<path>" }` mounts, `allowed_outbound_hosts` (read, reported, not enforced).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

#[derive(Deserialize)]
struct Raw {
    spin_manifest_version: u32,
    application: Application,
    #[serde(default)]
    variables: BTreeMap<String, Variable>,
    #[serde(default)]
    trigger: Triggers,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Deserialize)]
pub struct Application {
    pub name: String,
}

#[derive(Deserialize, Default)]
struct Triggers {
    #[serde(default)]
    http: Vec<HttpTrigger>,
}

#[derive(Deserialize)]
struct HttpTrigger {
    route: String,
    component: String,
}

#[derive(Deserialize)]
struct Variable {
    default: Option<String>,
    #[serde(default)]
    required: bool,
}

#[derive(Deserialize)]
struct RawComponent {
    source: String,
    #[serde(default)]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    files: Vec<RawFiles>,
}

/// An entry of a component's `files`: Spin also takes glob patterns (plain strings), which this
/// host refuses with a clear error rather than mounting something else.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawFiles {
    Mount { source: String, destination: String },
    Pattern(String),
}

/// A folder of the application mounted read-only into a component (`files`).
#[derive(Clone, Debug)]
pub struct Mount {
    /// The folder on this machine (relative paths are relative to spin.toml).
    pub source: PathBuf,
    /// Where the component sees it (absolute, e.g. `/`).
    pub destination: String,
}

/// One HTTP route and the component that serves it, ready to load.
pub struct Route {
    /// `/...` matches everything; `/a/...` a prefix; anything else is exact.
    pub route: String,
    pub component: String,
    pub source: PathBuf,
    pub sqlite_databases: Vec<String>,
    /// The component's variables, templates resolved.
    pub variables: BTreeMap<String, String>,
    pub allowed_outbound_hosts: Vec<String>,
    pub files: Vec<Mount>,
}

pub struct Manifest {
    pub application: Application,
    pub routes: Vec<Route>,
}

impl Route {
    /// Whether `path` is served by this route; longer prefixes are more specific.
    pub fn matches(&self, path: &str) -> Option<usize> {
        match self.route.strip_suffix("/...") {
            Some(prefix) if path == prefix || path.starts_with(&format!("{prefix}/")) => {
                Some(prefix.len())
            }
            Some(_) => None,
            None => (path == self.route).then_some(usize::MAX),
        }
    }
}

/// Reads the manifest and resolves each component's variables: the application variable
/// `name` takes its value from the environment variable `SPIN_VARIABLE_<NAME>` (as Spin's
/// environment-variable provider does), else its `default`; a `required` one without a value
/// is an error here, as in `spin up`.
pub fn load(path: &Path) -> Result<Manifest> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let raw: Raw = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if raw.spin_manifest_version != 2 {
        bail!("only spin_manifest_version = 2 is supported");
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut values = BTreeMap::new();
    for (name, v) in &raw.variables {
        let env = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
        match std::env::var(&env).ok().or_else(|| v.default.clone()) {
            Some(value) => {
                values.insert(name.clone(), value);
            }
            None if v.required => bail!("the variable `{name}` is required: set {env}"),
            None => {}
        }
    }
    let mut routes = Vec::new();
    for t in &raw.trigger.http {
        let c = raw
            .component
            .get(&t.component)
            .with_context(|| format!("trigger {} names no component {}", t.route, t.component))?;
        let mut variables = BTreeMap::new();
        for (k, template) in &c.variables {
            variables.insert(k.clone(), expand(template, &values)?);
        }
        let mut files = Vec::new();
        for f in &c.files {
            match f {
                RawFiles::Mount {
                    source,
                    destination,
                } => {
                    if !destination.starts_with('/') {
                        bail!(
                            "component {}: files destination {destination:?} must be an absolute path",
                            t.component
                        );
                    }
                    let source = dir.join(source);
                    if !source.is_dir() {
                        bail!(
                            "component {}: the files source {} is not a folder (build it first: the frontends go to frontend/dist)",
                            t.component,
                            source.display()
                        );
                    }
                    files.push(Mount {
                        source,
                        destination: destination.clone(),
                    });
                }
                RawFiles::Pattern(p) => bail!(
                    "component {}: files pattern {p:?}: this host mounts folders only ({{ source = \"dir\", destination = \"/\" }})",
                    t.component
                ),
            }
        }
        routes.push(Route {
            route: t.route.clone(),
            component: t.component.clone(),
            source: dir.join(&c.source),
            sqlite_databases: c.sqlite_databases.clone(),
            variables,
            allowed_outbound_hosts: c.allowed_outbound_hosts.clone(),
            files,
        });
    }
    if routes.is_empty() {
        bail!("{} has no [[trigger.http]]", path.display());
    }
    Ok(Manifest {
        application: raw.application,
        routes,
    })
}

/// Expands `{{ name }}` with the application variables.
fn expand(template: &str, values: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .with_context(|| format!("unclosed {{{{ in {template:?}"))?;
        let name = rest[start + 2..start + end].trim();
        match values.get(name) {
            Some(v) => out.push_str(v),
            None => bail!("the template {template:?} uses `{name}`, which has no value"),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}
