//! The ordered, safe steps of a signing-key or issuer rotation of a self-managed cluster, and the
//! kube-apiserver flags of each, from the cluster's current state ([`super::show`]).
//!
//! The order protects two invariants (flux-cross-cloud "Rotating the private key" and "For
//! clusters without a built-in public Issuer URL"):
//! - a cloud can verify every token the moment it is issued: the JWKS publishes a key before the
//!   API server signs with it, and a new issuer is published and registered with the clouds
//!   before the API server issues under it;
//! - nothing in the cluster breaks: `--service-account-issuer` is repeated, new first (it issues)
//!   and old kept (still accepted), and `--service-account-key-file` lists old and new keys, so
//!   tokens already handed out stay valid until they expire.

use serde::Serialize;
use serde_json::Value;

use super::generate::JWKS_PATH;
use super::keys::{PublicKeyPem, public_keys};
use super::show::ClusterIssuer;
use super::url::Issuer;
use crate::error::{Error, Result};

/// Placeholder for the current verification key file(s) on the control plane.
pub const CURRENT_KEY_FILE: &str = "<current public key file>";
/// Placeholder for the current private signing key on the control plane.
pub const CURRENT_SIGNING_KEY_FILE: &str = "<current private key file>";
/// Placeholder for the new private key on the control plane.
pub const NEW_SIGNING_KEY_FILE: &str = "<new private key file>";

/// What rotates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RotationKind {
    /// The signing key; the issuer stays.
    Key,
    /// The issuer; the keys stay.
    Issuer,
    /// Both.
    KeyAndIssuer,
}

/// One step of a [`Plan`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// What to do.
    pub action: String,
    /// Why now, and what breaks if skipped or reordered.
    pub why: String,
    /// Commands to run (kubecred, or the cloud's registration), if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    /// The kube-apiserver flags once this step is done, if it changes them (the full set of
    /// rotation-related flags, one `--flag=value` per entry).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub apiserver_flags: Vec<String>,
}

/// The plan of a rotation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// What rotates.
    pub kind: RotationKind,
    /// The issuer the clouds trust now.
    pub issuer: String,
    /// The issuer after the rotation.
    pub new_issuer: String,
    /// The `kid`s the cluster's JWKS publishes now.
    pub current_kids: Vec<String>,
    /// The `kid`s of the new keys.
    pub new_kids: Vec<String>,
    /// What the current state says that the plan had to assume (e.g. the cluster issues under
    /// another issuer than the one given).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// What to rotate to.
#[derive(Clone, Debug, Default)]
pub struct Rotation {
    /// The new issuer, if the issuer changes.
    pub new_issuer: Option<Issuer>,
    /// The new public keys (their files as given), if the signing key changes.
    pub new_keys: Vec<PublicKeyPem>,
}

/// The plan of `rotation` for a cluster in state `cluster` whose issuer the clouds trust as
/// `issuer`. `target` is where the documents are published (`s3://...`; a placeholder if unknown).
pub fn rotate_plan(
    cluster: &ClusterIssuer,
    issuer: &Issuer,
    rotation: &Rotation,
    target: Option<&str>,
) -> Result<Plan> {
    let new_issuer = rotation
        .new_issuer
        .as_ref()
        .filter(|n| n.as_str() != issuer.as_str());
    let new_jwks = public_keys(&rotation.new_keys)?;
    let current_kids = kids(&cluster.jwks);
    let new_kids: Vec<String> = new_jwks
        .iter()
        .map(|k| k.kid.clone())
        .filter(|k| !current_kids.contains(k))
        .collect();
    let kind = match (new_issuer.is_some(), !new_kids.is_empty()) {
        (false, false) => {
            return Err(Error::invalid(
                "nothing to rotate: give --new-issuer (a different issuer) or --new-signing-key \
                 (a key the cluster's JWKS does not publish yet)",
            ));
        }
        (false, true) => RotationKind::Key,
        (true, false) => RotationKind::Issuer,
        (true, true) => RotationKind::KeyAndIssuer,
    };
    let mut warnings = Vec::new();
    if cluster.issuer != issuer.as_str() {
        warnings.push(format!(
            "the cluster issues tokens as '{}' (its first --service-account-issuer), not '{}': \
             the plan assumes the clouds trust '{}'; set the cluster's issuer to it first if \
             they do",
            cluster.issuer,
            issuer.as_str(),
            issuer.as_str()
        ));
    }
    if current_kids.is_empty() {
        warnings.push(
            "the cluster's JWKS lists no key: kubecred issuer show to see what it serves".into(),
        );
    }
    let target = target.unwrap_or("<s3://BUCKET | gs://BUCKET | azblob://ACCOUNT/$web>");
    let final_issuer = new_issuer.unwrap_or(issuer);
    let new_files: Vec<&str> = rotation.new_keys.iter().map(|k| k.source()).collect();
    let key_args = |with_current: bool| {
        let mut args = Vec::new();
        if with_current {
            args.push(format!("--signing-key {CURRENT_KEY_FILE}"));
        }
        args.extend(new_files.iter().map(|f| format!("--signing-key {f}")));
        args.join(" ")
    };
    let publish = |at: &Issuer, with_current: bool| {
        vec![
            format!(
                "kubecred issuer generate --issuer {} {} -o issuer-docs",
                at.as_str(),
                key_args(with_current)
            ),
            format!("kubecred issuer publish {target} --from issuer-docs"),
            format!(
                "kubecred issuer verify {} {}",
                at.as_str(),
                key_args(with_current)
            ),
        ]
    };
    let key_rotation = !new_kids.is_empty();
    let flags = |issuers: &[&Issuer], key_files: &[&str], signing: &str, jwks: &Issuer| {
        let mut flags: Vec<String> = issuers
            .iter()
            .map(|i| format!("--service-account-issuer={}", i.as_str()))
            .collect();
        flags.extend(
            key_files
                .iter()
                .map(|f| format!("--service-account-key-file={f}")),
        );
        flags.push(format!("--service-account-signing-key-file={signing}"));
        flags.push(format!(
            "--service-account-jwks-uri={}{JWKS_PATH}",
            jwks.base()
        ));
        flags
    };
    let mut all_files = vec![CURRENT_KEY_FILE];
    all_files.extend(new_files.iter().copied());
    let current_files = [CURRENT_KEY_FILE];
    let mut steps = Vec::new();

    // 1. Publish first: the documents a cloud needs before any token needs them.
    if key_rotation {
        steps.push(Step {
            action: format!(
                "publish a JWKS with the current key(s) ({}) and the new one(s) ({}) under '{}'",
                current_kids.join(", "),
                new_kids.join(", "),
                issuer.as_str()
            ),
            why: "a cloud picks the verification key by the token's kid from the published \
                  JWKS: the new key must be there before the API server signs one token with it, \
                  and the current key must stay for the tokens already issued"
                .into(),
            commands: publish(issuer, true),
            apiserver_flags: Vec::new(),
        });
    }
    if let Some(new_issuer) = new_issuer {
        steps.push(Step {
            action: format!(
                "publish the discovery document and JWKS of the new issuer '{}'",
                new_issuer.as_str()
            ),
            why: "a cloud fetches <issuer>/.well-known/openid-configuration and compares its \
                  issuer field with the token's iss exactly; the new issuer's documents must be \
                  public before the API server issues a token under it"
                .into(),
            commands: publish(new_issuer, true),
            apiserver_flags: Vec::new(),
        });
        steps.push(Step {
            action: format!(
                "trust '{}' at each target cloud beside '{}' (AWS IAM OIDC provider, Entra \
                 federated credential, GCP workload identity pool provider)",
                new_issuer.as_str(),
                issuer.as_str()
            ),
            why: "a cloud accepts only registered issuers: tokens issued under the new issuer \
                  are refused until it is registered; the old registration stays for the tokens \
                  still carrying the old iss"
                .into(),
            commands: Vec::new(),
            apiserver_flags: Vec::new(),
        });
    }
    // 2. Teach every API server the new key before any signs with it.
    if key_rotation {
        steps.push(Step {
            action: "add the new public key(s) to --service-account-key-file on every API \
                     server, keep signing with the current key"
                .into(),
            why: "with several API servers, a token signed by one with the new key must verify \
                  at all of them: every server learns the key before any signs with it"
                .into(),
            commands: Vec::new(),
            apiserver_flags: flags(&[issuer], &all_files, CURRENT_SIGNING_KEY_FILE, issuer),
        });
    }
    // 3. Switch: new issuer first (old kept), new signing key.
    let switch_issuers: Vec<&Issuer> = match new_issuer {
        Some(new_issuer) => vec![new_issuer, issuer],
        None => vec![issuer],
    };
    let signing = match key_rotation {
        true => NEW_SIGNING_KEY_FILE,
        false => CURRENT_SIGNING_KEY_FILE,
    };
    let files: &[&str] = match key_rotation {
        true => &all_files,
        false => &current_files,
    };
    let mut switched = Vec::new();
    if new_issuer.is_some() {
        switched.push(
            "the first --service-account-issuer issues new tokens and every one listed is \
             accepted, so the old issuer stays second until its tokens are gone; \
             --service-account-jwks-uri points the discovery document at the new JWKS",
        );
    }
    if key_rotation {
        switched.push(
            "the API server now signs with the new private key (the private half of the new \
             public key, already published and already in --service-account-key-file); the \
             current public key stays so that issued tokens keep verifying",
        );
    }
    steps.push(Step {
        action: match (new_issuer, key_rotation) {
            (Some(n), true) => format!(
                "switch the API servers to issue as '{}' and to sign with the new key",
                n.as_str()
            ),
            (Some(n), false) => format!("switch the API servers to issue as '{}'", n.as_str()),
            _ => "switch the API servers to sign with the new key".into(),
        },
        why: switched.join("; "),
        commands: Vec::new(),
        apiserver_flags: flags(&switch_issuers, files, signing, final_issuer),
    });
    // 4. Wait.
    steps.push(Step {
        action: "wait until every token issued before the switch has expired".into(),
        why: "projected tokens are refreshed by the kubelet at 80% of their lifetime (1 hour by \
              default) but stay valid to their expiry, which can be up to a year with \
              --service-account-extend-token-expiration (on by default) and up to \
              --service-account-max-token-expiration otherwise; removing the old key or issuer \
              earlier rejects them, at the clouds and at the API server"
            .into(),
        commands: Vec::new(),
        apiserver_flags: Vec::new(),
    });
    // 5. Clean up.
    let new_files_only: Vec<&str> = match key_rotation {
        true => new_files.clone(),
        false => vec![CURRENT_KEY_FILE],
    };
    let mut cleanup_commands = Vec::new();
    if key_rotation {
        cleanup_commands.extend(publish(final_issuer, false));
    }
    steps.push(Step {
        action: match (new_issuer, key_rotation) {
            (Some(_), true) => "drop the old issuer and the old key: from the flags, from the \
                                published JWKS and from each cloud's trust"
                .into(),
            (Some(_), false) => {
                "drop the old issuer from the flags and from each cloud's trust".into()
            }
            _ => "drop the old key from --service-account-key-file and republish the JWKS \
                  without it"
                .into(),
        },
        why: "a key or issuer no longer in use but still trusted is a standing risk: a leaked \
              old private key could still mint tokens the clouds accept"
            .into(),
        commands: cleanup_commands,
        apiserver_flags: flags(&[final_issuer], &new_files_only, signing, final_issuer),
    });
    Ok(Plan {
        kind,
        issuer: issuer.as_str().to_owned(),
        new_issuer: final_issuer.as_str().to_owned(),
        current_kids,
        new_kids,
        warnings,
        steps,
    })
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks.get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k.get("kid").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The plan as lines for a person.
pub fn plan_text(plan: &Plan) -> String {
    let mut out = format!(
        "{} rotation: issuer {} -> {}\ncurrent kids: {}\nnew kids: {}\n",
        match plan.kind {
            RotationKind::Key => "key",
            RotationKind::Issuer => "issuer",
            RotationKind::KeyAndIssuer => "key and issuer",
        },
        plan.issuer,
        plan.new_issuer,
        or_none(&plan.current_kids),
        or_none(&plan.new_kids),
    );
    for warning in &plan.warnings {
        out.push_str(&format!("warning: {warning}\n"));
    }
    for (n, step) in plan.steps.iter().enumerate() {
        out.push_str(&format!(
            "\n{}. {}\n   why: {}\n",
            n + 1,
            step.action,
            step.why
        ));
        for command in &step.commands {
            out.push_str(&format!("   $ {command}\n"));
        }
        if !step.apiserver_flags.is_empty() {
            out.push_str("   kube-apiserver flags:\n");
            for flag in &step.apiserver_flags {
                out.push_str(&format!("     {flag}\n"));
            }
        }
    }
    out
}

fn or_none(list: &[String]) -> String {
    match list.is_empty() {
        true => "(none)".into(),
        false => list.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issuer::reachability;
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::signature::KeyPair as _;
    use base64::Engine as _;

    fn key(name: &str) -> Result<PublicKeyPem> {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|_| Error::invalid("keygen"))?;
        let der = pair
            .public_key()
            .as_der()
            .map_err(|_| Error::invalid("der"))?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        Ok(PublicKeyPem::new(
            name,
            format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n"),
        ))
    }

    fn cluster(issuer: &str, keys: &[PublicKeyPem]) -> Result<ClusterIssuer> {
        let documents = crate::issuer::generate(&Issuer::parse(issuer)?, None, keys)?;
        Ok(ClusterIssuer {
            issuer: issuer.into(),
            jwks_uri: documents.discovery["jwks_uri"].as_str().map(str::to_owned),
            reachability: reachability(issuer),
            discovery: documents.discovery,
            jwks: documents.jwks,
        })
    }

    /// The index of the first step whose action contains `text`.
    fn step(plan: &Plan, text: &str) -> usize {
        plan.steps
            .iter()
            .position(|s| s.action.contains(text))
            .unwrap_or(usize::MAX)
    }

    #[test]
    fn a_key_rotation_publishes_then_adds_then_signs_then_drops() -> Result<()> {
        let old = key("old.pub")?;
        let new = key("new.pub")?;
        let issuer = Issuer::parse("https://oidc.example.com/c")?;
        let state = cluster(issuer.as_str(), std::slice::from_ref(&old))?;
        let rotation = Rotation {
            new_issuer: None,
            new_keys: vec![new.clone()],
        };
        let plan = rotate_plan(&state, &issuer, &rotation, Some("s3://oidc"))?;
        assert_eq!(plan.kind, RotationKind::Key);
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
        let new_kid = public_keys(&[new])?[0].kid.clone();
        assert_eq!(plan.new_kids, std::slice::from_ref(&new_kid));
        assert_eq!(plan.current_kids.len(), 1);
        let publish = step(&plan, "publish a JWKS");
        let add = step(&plan, "add the new public key");
        let switch = step(&plan, "switch the API servers to sign");
        let wait = step(&plan, "wait");
        let drop = step(&plan, "drop the old key");
        assert!(publish < add && add < switch && switch < wait && wait < drop);
        assert!(plan.steps[publish].action.contains(&new_kid));
        assert!(
            plan.steps[publish]
                .commands
                .iter()
                .any(|c| c == "kubecred issuer publish s3://oidc --from issuer-docs")
        );
        // Verification keys: old and new while adding and switching; signing changes at switch.
        let added = &plan.steps[add].apiserver_flags;
        assert!(added.contains(&"--service-account-key-file=<current public key file>".into()));
        assert!(added.contains(&"--service-account-key-file=new.pub".into()));
        assert!(
            added.contains(&"--service-account-signing-key-file=<current private key file>".into())
        );
        let switched = &plan.steps[switch].apiserver_flags;
        assert!(switched.contains(&"--service-account-key-file=<current public key file>".into()));
        assert!(
            switched.contains(&"--service-account-signing-key-file=<new private key file>".into())
        );
        assert_eq!(
            switched
                .iter()
                .filter(|f| f.starts_with("--service-account-issuer="))
                .count(),
            1
        );
        assert!(switched.contains(
            &"--service-account-jwks-uri=https://oidc.example.com/c/openid/v1/jwks".into()
        ));
        let dropped = &plan.steps[drop].apiserver_flags;
        assert!(
            !dropped
                .iter()
                .any(|f| f.contains("<current public key file>"))
        );
        let text = plan_text(&plan);
        assert!(
            text.starts_with("key rotation: issuer https://oidc.example.com/c"),
            "{text}"
        );
        assert!(text.contains("   why: "), "{text}");
        Ok(())
    }

    #[test]
    fn an_issuer_rotation_registers_then_issues_new_first_old_kept() -> Result<()> {
        let current = key("sa.pub")?;
        let issuer = Issuer::parse("https://old.example.com")?;
        let new_issuer = Issuer::parse("https://new.example.com/oidc")?;
        let state = cluster(
            "https://kubernetes.default.svc",
            std::slice::from_ref(&current),
        )?;
        let rotation = Rotation {
            new_issuer: Some(new_issuer.clone()),
            // The current key given again is not a key rotation.
            new_keys: vec![current],
        };
        let plan = rotate_plan(&state, &issuer, &rotation, None)?;
        assert_eq!(plan.kind, RotationKind::Issuer);
        assert!(plan.new_kids.is_empty());
        assert_eq!(plan.warnings.len(), 1);
        assert!(plan.warnings[0].contains("https://kubernetes.default.svc"));
        let publish = step(&plan, "publish the discovery document");
        let trust = step(&plan, "trust 'https://new.example.com/oidc'");
        let switch = step(&plan, "switch the API servers to issue as");
        let drop = step(&plan, "drop the old issuer");
        assert!(publish < trust && trust < switch && switch < drop && drop < usize::MAX);
        let issuers: Vec<&String> = plan.steps[switch]
            .apiserver_flags
            .iter()
            .filter(|f| f.starts_with("--service-account-issuer="))
            .collect();
        assert_eq!(
            issuers,
            [
                "--service-account-issuer=https://new.example.com/oidc",
                "--service-account-issuer=https://old.example.com"
            ]
        );
        assert!(plan.steps[switch].apiserver_flags.contains(
            &"--service-account-jwks-uri=https://new.example.com/oidc/openid/v1/jwks".into()
        ));
        assert!(
            plan.steps[switch]
                .apiserver_flags
                .contains(&"--service-account-signing-key-file=<current private key file>".into())
        );
        let after: Vec<&String> = plan.steps[drop]
            .apiserver_flags
            .iter()
            .filter(|f| f.starts_with("--service-account-issuer="))
            .collect();
        assert_eq!(
            after,
            ["--service-account-issuer=https://new.example.com/oidc"]
        );
        let json = serde_json::to_value(&plan).map_err(|e| Error::invalid(e.to_string()))?;
        assert_eq!(json["kind"], "issuer");
        assert!(json["steps"][0]["why"].is_string());
        Ok(())
    }

    #[test]
    fn both_at_once_and_nothing_to_do() -> Result<()> {
        let old = key("old.pub")?;
        let issuer = Issuer::parse("https://old.example.com")?;
        let state = cluster(issuer.as_str(), std::slice::from_ref(&old))?;
        let both = Rotation {
            new_issuer: Some(Issuer::parse("https://new.example.com")?),
            new_keys: vec![key("new.pub")?],
        };
        let plan = rotate_plan(&state, &issuer, &both, None)?;
        assert_eq!(plan.kind, RotationKind::KeyAndIssuer);
        let switch = step(&plan, "and to sign with the new key");
        assert!(step(&plan, "publish a JWKS") < switch);
        assert!(step(&plan, "trust ") < switch);
        let same = Rotation {
            new_issuer: Some(issuer.clone()),
            new_keys: vec![old],
        };
        let error = rotate_plan(&state, &issuer, &same, None).err();
        assert!(
            error
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("nothing to rotate")
        );
        Ok(())
    }
}
