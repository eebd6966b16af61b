//! A realistic, deterministic catalog for the search benchmark: teams own services, services
//! depend on platform services, every service has a repository, deployments run services in
//! environments.
//!
//! Every entity is a pure function of (seed, kind, index), so batches are generated on the
//! fly (nothing is held in memory) and a run is reproducible. Proportions of `n` entities:
//! 1% teams (at least 5), 20% services, 20% repositories, a handful of environments, the
//! rest (~59%) deployments.
//!
//! - The first 10% of the services are "platform" services: they depend on nothing; every
//!   other service ("application") depends on 1 to 3 platform services. So the `dependsOn`
//!   targets exist before the applications are written, and no application is a `dependsOn`
//!   target (a `relatedTo` walk downstream of an application stops after one hop).
//! - Deployments pick their service with a skew (a few services have hundreds of deployments,
//!   most have a few), their start time uniformly over two years.

use serde_json::{Value, json};

pub const TEAM: &str = "team";
pub const SERVICE: &str = "service";
pub const REPOSITORY: &str = "repository";
pub const DEPLOYMENT: &str = "deployment";
pub const ENVIRONMENT: &str = "environment";

/// The generated time span ends here (2026-10-01T00:00:00Z), in microseconds since the epoch.
pub const END_MICROS: i64 = 1_790_812_800_000_000;
/// Two years (730 days) in microseconds.
pub const SPAN_MICROS: i64 = 730 * DAY_MICROS;
pub const DAY_MICROS: i64 = 86_400_000_000;

/// The team blueprint is the write benchmark's (`crate::data::team_blueprint`): its
/// environment creates it, and the other organizations get the same one.
pub fn team_blueprint() -> Value {
    crate::data::team_blueprint()
}

pub const LANGUAGES: [&str; 10] = [
    "typescript",
    "python",
    "go",
    "java",
    "rust",
    "kotlin",
    "ruby",
    "csharp",
    "scala",
    "elixir",
];
/// Cumulative weights (out of 100) of [`LANGUAGES`].
const LANGUAGE_WEIGHTS: [u64; 10] = [20, 38, 54, 68, 78, 85, 90, 95, 98, 100];

pub const STATUSES: [&str; 5] = ["success", "failed", "running", "cancelled", "rolled_back"];
/// Cumulative weights (out of 100) of [`STATUSES`].
const STATUS_WEIGHTS: [u64; 5] = [72, 84, 87, 93, 100];

pub const ENVIRONMENTS: [&str; 5] = ["production", "staging", "development", "qa", "sandbox"];
/// Cumulative weights (out of 100) of [`ENVIRONMENTS`] among deployments.
const ENVIRONMENT_WEIGHTS: [u64; 5] = [35, 65, 85, 95, 100];
const REGIONS: [&str; 4] = ["eu-west-1", "us-east-1", "ap-south-1", "sa-east-1"];

const TAGS: [&str; 16] = [
    "pci",
    "gdpr",
    "customer-facing",
    "internal",
    "batch",
    "grpc",
    "rest",
    "kafka",
    "legacy",
    "experimental",
    "critical",
    "beta",
    "mobile",
    "web",
    "data",
    "ml",
];
const WORDS: [&str; 16] = [
    "payments",
    "orders",
    "search",
    "billing",
    "catalog",
    "checkout",
    "identity",
    "ledger",
    "pricing",
    "shipping",
    "inventory",
    "notify",
    "reports",
    "gateway",
    "media",
    "profile",
];
const SUFFIXES: [&str; 6] = ["api", "worker", "service", "sync", "web", "jobs"];

pub fn service_blueprint() -> Value {
    json!({
        "identifier": SERVICE, "title": "Service", "icon": "Service",
        "schema": {
            "properties": {
                "name": {"type": "string", "title": "Name"},
                "language": {"type": "string", "title": "Language", "enum": LANGUAGES},
                "tier": {"type": "number", "title": "Tier", "minimum": 1, "maximum": 4},
                "repoUrl": {"type": "string", "title": "Repository URL", "format": "url"},
                "lastDeploy": {"type": "string", "title": "Last deploy", "format": "date-time"},
                "tags": {"type": "array", "title": "Tags", "items": {"type": "string"}}
            },
            "required": ["name", "language"]
        },
        "relations": {
            "team": {"title": "Team", "target": TEAM, "required": true, "many": false},
            "dependsOn": {"title": "Depends on", "target": SERVICE, "required": false, "many": true}
        }
    })
}

pub fn repository_blueprint() -> Value {
    json!({
        "identifier": REPOSITORY, "title": "Repository", "icon": "Git",
        "schema": {
            "properties": {
                "url": {"type": "string", "title": "URL", "format": "url"},
                "defaultBranch": {"type": "string", "title": "Default branch", "enum": ["main", "master", "trunk"]},
                "visibility": {"type": "string", "title": "Visibility", "enum": ["private", "internal", "public"]},
                "stars": {"type": "number", "title": "Stars", "minimum": 0}
            },
            "required": ["url"]
        },
        "relations": {
            "service": {"title": "Service", "target": SERVICE, "required": true, "many": false}
        }
    })
}

pub fn environment_blueprint() -> Value {
    json!({
        "identifier": ENVIRONMENT, "title": "Environment", "icon": "Environment",
        "schema": {
            "properties": {
                "kind": {"type": "string", "title": "Kind", "enum": ["production", "pre-production", "development"]},
                "region": {"type": "string", "title": "Region"}
            },
            "required": []
        }
    })
}

pub fn deployment_blueprint() -> Value {
    json!({
        "identifier": DEPLOYMENT, "title": "Deployment", "icon": "Deployment",
        "schema": {
            "properties": {
                "status": {"type": "string", "title": "Status", "enum": STATUSES},
                "startedAt": {"type": "string", "title": "Started at", "format": "date-time"},
                "durationSeconds": {"type": "number", "title": "Duration (s)", "minimum": 0},
                "commitSha": {"type": "string", "title": "Commit"},
                "triggeredBy": {"type": "string", "title": "Triggered by", "format": "email"}
            },
            "required": ["status", "startedAt"]
        },
        "relations": {
            "service": {"title": "Service", "target": SERVICE, "required": true, "many": false},
            "environment": {"title": "Environment", "target": ENVIRONMENT, "required": true, "many": false}
        }
    })
}

/// splitmix64's finalizer: a good 64-bit mix.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Picks from cumulative weights (out of 100).
fn weighted<'a>(values: &[&'a str], cumulative: &[u64], h: u64) -> &'a str {
    let x = h % 100;
    let i = cumulative.iter().position(|c| x < *c).unwrap_or(0);
    values[i]
}

/// The counts of each kind of entity for `n` entities in total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub teams: usize,
    pub environments: usize,
    pub services: usize,
    /// Services `0..platform` are platform services.
    pub platform: usize,
    pub repositories: usize,
    pub deployments: usize,
}

impl Sizes {
    pub fn of(n: usize) -> Sizes {
        let teams = (n / 100).max(5);
        let environments = ENVIRONMENTS.len();
        let services = (n / 5).max(10);
        let repositories = services;
        let deployments = n
            .saturating_sub(teams + environments + services + repositories)
            .max(10);
        Sizes {
            teams,
            environments,
            services,
            platform: (services / 10).max(1),
            repositories,
            deployments,
        }
    }

    pub fn total(&self) -> usize {
        self.teams + self.environments + self.services + self.repositories + self.deployments
    }
}

/// One organization's catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    seed: u64,
    pub sizes: Sizes,
    /// A multiplier coprime with the service count (scatters the popular services).
    stride: usize,
}

/// Salts of the hashed choices (each choice draws its own number).
#[derive(Clone, Copy)]
enum Draw {
    Team = 1,
    Language,
    Tier,
    LastDeploy,
    TagCount,
    Tag,
    DepCount,
    Dep,
    DeployService,
    DeployEnv,
    Status,
    StartedAt,
    Duration,
    Sha,
    Branch,
    Visibility,
    Stars,
    Name,
    Person,
}

impl Catalog {
    pub fn new(seed: u64, n: usize) -> Catalog {
        let sizes = Sizes::of(n);
        let s = sizes.services;
        let mut stride = (0x9E37_79B9usize % s).max(1);
        while gcd(stride, s) != 1 {
            stride += 1;
        }
        Catalog {
            seed: mix(seed),
            sizes,
            stride,
        }
    }

    fn h(&self, kind: u64, i: usize, draw: Draw, k: u64) -> u64 {
        mix(self.seed ^ mix((kind << 56) ^ (i as u64) ^ mix(((draw as u64) << 32) ^ k)))
    }

    fn unit(&self, kind: u64, i: usize, draw: Draw) -> f64 {
        (self.h(kind, i, draw, 0) >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn team_id(i: usize) -> String {
        format!("team-{i:05}")
    }

    pub fn service_id(i: usize) -> String {
        format!("svc-{i:07}")
    }

    pub fn repository_id(i: usize) -> String {
        format!("repo-{i:07}")
    }

    pub fn deployment_id(i: usize) -> String {
        format!("dep-{i:08}")
    }

    /// The team owning service `i`.
    pub fn team_of_service(&self, i: usize) -> usize {
        (self.h(2, i, Draw::Team, 0) % self.sizes.teams as u64) as usize
    }

    /// The platform services application `i` depends on (none for platform services).
    pub fn depends_on(&self, i: usize) -> Vec<usize> {
        let p = self.sizes.platform;
        if i < p {
            return Vec::new();
        }
        let want = 1 + (self.h(2, i, Draw::DepCount, 0) % 3) as usize;
        let mut out = Vec::with_capacity(want);
        for k in 0..want as u64 * 4 {
            if out.len() == want {
                break;
            }
            let d = (self.h(2, i, Draw::Dep, k) % p as u64) as usize;
            if !out.contains(&d) {
                out.push(d);
            }
        }
        out
    }

    /// The service deployment `j` deployed: a skewed pick (the square of a uniform number)
    /// scattered over the services.
    pub fn service_of_deployment(&self, j: usize) -> usize {
        let s = self.sizes.services;
        let u = self.unit(4, j, Draw::DeployService);
        let k = ((u * u * s as f64) as usize).min(s - 1);
        (k * self.stride + 7) % s
    }

    /// The start of deployment `j`, in microseconds since the epoch.
    pub fn started_at(&self, j: usize) -> i64 {
        let off = (self.h(4, j, Draw::StartedAt, 0) % SPAN_MICROS as u64) as i64;
        // Whole seconds (what the API returns back is then exactly what was sent).
        (END_MICROS - SPAN_MICROS + off) / 1_000_000 * 1_000_000
    }

    pub fn status(&self, j: usize) -> &'static str {
        weighted(&STATUSES, &STATUS_WEIGHTS, self.h(4, j, Draw::Status, 0))
    }

    pub fn repo_url(&self, i: usize) -> String {
        format!(
            "https://git.example.com/{}/{}",
            Self::team_id(self.team_of_service(i)),
            Self::service_id(i)
        )
    }

    pub fn language(&self, i: usize) -> &'static str {
        weighted(
            &LANGUAGES,
            &LANGUAGE_WEIGHTS,
            self.h(2, i, Draw::Language, 0),
        )
    }

    pub fn team(&self, i: usize) -> Value {
        json!({
            "identifier": Self::team_id(i),
            "title": format!("Team {i}"),
            "properties": {
                "size": 3 + self.h(1, i, Draw::Tier, 0) % 12,
                "slack": format!("https://slack.example.com/archives/T{i:05}"),
                "manager": format!("{}@example.com", person(self.h(1, i, Draw::Person, 0))),
            }
        })
    }

    pub fn environment(&self, i: usize) -> Value {
        let name = ENVIRONMENTS[i % ENVIRONMENTS.len()];
        let kind = match name {
            "production" => "production",
            "staging" | "qa" => "pre-production",
            _ => "development",
        };
        json!({
            "identifier": name,
            "title": name,
            "properties": {"kind": kind, "region": REGIONS[i % REGIONS.len()]}
        })
    }

    pub fn service(&self, i: usize) -> Value {
        let name = format!(
            "{}-{}-{i}",
            WORDS[(self.h(2, i, Draw::Name, 0) % WORDS.len() as u64) as usize],
            SUFFIXES[(self.h(2, i, Draw::Name, 1) % SUFFIXES.len() as u64) as usize]
        );
        let ntags = 1 + self.h(2, i, Draw::TagCount, 0) % 4;
        let mut tags: Vec<&str> = Vec::new();
        for k in 0..ntags {
            let t = TAGS[(self.h(2, i, Draw::Tag, k) % TAGS.len() as u64) as usize];
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        let last = END_MICROS
            - (self.h(2, i, Draw::LastDeploy, 0) % SPAN_MICROS as u64) as i64 / 1_000_000
                * 1_000_000;
        let deps: Vec<String> = self
            .depends_on(i)
            .into_iter()
            .map(Self::service_id)
            .collect();
        json!({
            "identifier": Self::service_id(i),
            "title": name,
            "properties": {
                "name": name,
                "language": self.language(i),
                "tier": 1 + self.h(2, i, Draw::Tier, 0) % 4,
                "repoUrl": self.repo_url(i),
                "lastDeploy": rfc3339(last),
                "tags": tags,
            },
            "relations": {
                "team": Self::team_id(self.team_of_service(i)),
                "dependsOn": deps,
            }
        })
    }

    /// Repository `i` holds service `i`.
    pub fn repository(&self, i: usize) -> Value {
        let branch = ["main", "main", "main", "master", "trunk"]
            [(self.h(3, i, Draw::Branch, 0) % 5) as usize];
        let visibility =
            ["private", "internal", "public"][(self.h(3, i, Draw::Visibility, 0) % 3) as usize];
        json!({
            "identifier": Self::repository_id(i),
            "title": Self::service_id(i),
            "properties": {
                "url": self.repo_url(i),
                "defaultBranch": branch,
                "visibility": visibility,
                "stars": self.h(3, i, Draw::Stars, 0) % 500,
            },
            "relations": {"service": Self::service_id(i)}
        })
    }

    pub fn deployment(&self, j: usize) -> Value {
        let svc = self.service_of_deployment(j);
        let env = weighted(
            &ENVIRONMENTS,
            &ENVIRONMENT_WEIGHTS,
            self.h(4, j, Draw::DeployEnv, 0),
        );
        json!({
            "identifier": Self::deployment_id(j),
            "title": format!("{} #{j}", Self::service_id(svc)),
            "properties": {
                "status": self.status(j),
                "startedAt": rfc3339(self.started_at(j)),
                "durationSeconds": 20 + self.h(4, j, Draw::Duration, 0) % 1_800,
                "commitSha": format!("{:016x}{:016x}{:08x}", self.h(4, j, Draw::Sha, 0),
                    self.h(4, j, Draw::Sha, 1), self.h(4, j, Draw::Sha, 2) as u32),
                "triggeredBy": format!("{}@example.com", person(self.h(4, j, Draw::Person, 0))),
            },
            "relations": {
                "service": Self::service_id(svc),
                "environment": env,
            }
        })
    }
}

fn person(h: u64) -> String {
    const FIRST: [&str; 8] = ["ana", "bo", "chen", "dara", "eli", "femi", "gus", "hana"];
    format!("{}{}", FIRST[(h % 8) as usize], (h >> 8) % 500)
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian; Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// An instant (microseconds since the epoch) as RFC 3339 UTC (`2026-01-31T12:00:00Z`,
/// with a fraction only when it is not whole seconds).
pub fn rfc3339(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let base = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        s / 3_600,
        s / 60 % 60,
        s % 60
    );
    if frac == 0 {
        format!("{base}Z")
    } else {
        format!("{base}.{frac:06}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(END_MICROS), "2026-10-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000_000), "2000-02-29T00:00:00Z");
        assert_eq!(
            rfc3339(1_700_000_000_123_456),
            "2023-11-14T22:13:20.123456Z"
        );
        assert_eq!(rfc3339(-1_000_000), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn proportions() {
        let s = Sizes::of(1_000_000);
        assert_eq!(s.teams, 10_000);
        assert_eq!(s.services, 200_000);
        assert_eq!(s.platform, 20_000);
        assert_eq!(s.total(), 1_000_000);
        let small = Sizes::of(100);
        assert_eq!(small.teams, 5);
        assert!(small.deployments >= 10);
    }

    #[test]
    fn deterministic_and_consistent() {
        let a = Catalog::new(7, 10_000);
        let b = Catalog::new(7, 10_000);
        assert_eq!(a.deployment(123), b.deployment(123));
        assert_ne!(a.deployment(123), Catalog::new(8, 10_000).deployment(123));
        let p = a.sizes.platform;
        for i in 0..a.sizes.services {
            let deps = a.depends_on(i);
            assert_eq!(deps.is_empty(), i < p);
            assert!(deps.iter().all(|d| *d < p));
        }
        for j in 0..1_000 {
            assert!(a.service_of_deployment(j) < a.sizes.services);
            let t = a.started_at(j);
            assert!((END_MICROS - SPAN_MICROS..END_MICROS).contains(&t));
        }
        let svc = a.service(p + 3);
        assert_eq!(
            svc["properties"]["repoUrl"]
                .as_str()
                .map(|u| u.starts_with("https://git.example.com/team-")),
            Some(true)
        );
    }

    #[test]
    fn deployments_are_skewed() {
        let c = Catalog::new(1, 10_000);
        let mut counts = vec![0usize; c.sizes.services];
        for j in 0..c.sizes.deployments {
            counts[c.service_of_deployment(j)] += 1;
        }
        let max = counts.iter().copied().max().unwrap_or(0);
        assert!(max > 50, "the busiest service has {max} deployments");
    }
}
