//! Test support: look-alike host tricks, applied to every host pattern that decides where
//! credentials go (ECR, ECR Public, CodeCommit, STS endpoints, Azure DevOps; GAR, GCR and ACR
//! reuse it). A pattern describes itself as a [`Pattern`]; [`assert_tricks_refused`] runs the
//! table of tricks over each of its valid hosts, and [`extra_label_refused`] is the body of the
//! property test "a valid host with any label added before or after never matches".

/// A host pattern under test.
pub(crate) struct Pattern {
    /// Shown in failures.
    pub name: &'static str,
    /// Hosts the pattern accepts, one of each shape (name only: no scheme, port or path).
    pub valid: &'static [&'static str],
    /// What the pattern makes of a host: `Some(what it names)` (a region, a provider, an
    /// endpoint) when it accepts it. A pattern over URLs wraps the host as `https://{host}`.
    pub accept: fn(&str) -> Option<String>,
    /// The pattern reads URLs: the tricks that only add a URL's empty parts (`host/`, `host:`,
    /// `host\`, `host:0443`) name the same endpoint.
    pub url: bool,
    /// Any port is accepted on a valid host (the name decides whose server it is): port tricks
    /// name the same host.
    pub any_port: bool,
    /// Labels that, appended to a valid host, name another real host of the same owner
    /// (`cn` after `amazonaws.com`).
    pub extensions: &'static [&'static str],
    /// The first label is a free name (an organisation): gluing characters before it names
    /// another host of the same owner, not a look-alike.
    pub open_first_label: bool,
}

/// What a trick must give: `true` for the same answer as the valid host, `false` for refused.
type Same = bool;
const REFUSED: Same = false;
const SAME: Same = true;

/// Homoglyphs of ASCII letters: Cyrillic a, c, e, o, p, the Kelvin sign for k.
const HOMOGLYPHS: [(char, char); 6] = [
    ('a', '\u{430}'),
    ('c', '\u{441}'),
    ('e', '\u{435}'),
    ('o', '\u{43e}'),
    ('p', '\u{440}'),
    ('k', '\u{212a}'),
];

/// The tricks applied to valid host `h` of `pattern`, with what each must give and its name.
/// With an open first label, the tricks that only change that label are left out.
fn tricks(h: &str, pattern: &Pattern) -> Vec<(String, Same, &'static str)> {
    let (url, any_port) = (pattern.url, pattern.any_port);
    let mut table = vec![
        (
            format!("{h}nc.cc"),
            REFUSED,
            "character-class run after the suffix",
        ),
        (format!("{h}c"), REFUSED, "a character glued after"),
        (format!("{h}.cc"), REFUSED, "a label after"),
        (format!("{h}.evil.example"), REFUSED, "a domain after"),
        (format!("evil.{h}"), REFUSED, "a label before"),
        (format!("{h}."), REFUSED, "trailing dot"),
        (format!("{h}.."), REFUSED, "two trailing dots"),
        (format!(".{h}"), REFUSED, "leading dot"),
        (format!("a@{h}"), REFUSED, "userinfo"),
        (format!("a:b@{h}"), REFUSED, "userinfo with a password"),
        (format!("{h}@evil.example"), REFUSED, "the host as userinfo"),
        (format!("{h}:8443"), any_port, "another port"),
        (format!("{h}:80"), any_port, "the HTTP port"),
        (format!("{h}:0443"), url || any_port, "a padded HTTPS port"),
        (format!("{h}:443"), SAME, "the HTTPS port"),
        (format!("{h}:"), url, "an empty port"),
        (format!("{h}/"), url, "an empty path"),
        (format!("{h}\\"), url, "a backslash path"),
        (format!("{h}/x"), REFUSED, "a path"),
        (format!("{h}?x"), REFUSED, "a query"),
        (format!("{h}#x"), REFUSED, "a fragment"),
        (format!("evil.example/{h}"), REFUSED, "the host as a path"),
        (
            format!("evil.example\\{h}"),
            REFUSED,
            "the host after a backslash",
        ),
        (
            format!("evil.example%2F{h}"),
            REFUSED,
            "an escaped slash before",
        ),
        (
            format!("{h}%2F.evil.example"),
            REFUSED,
            "an escaped slash after",
        ),
        (format!("{h}%2e"), REFUSED, "an escaped dot"),
        (format!(" {h}"), REFUSED, "leading space"),
        (format!("{h}\n"), REFUSED, "trailing newline"),
        (format!("{h}\0"), REFUSED, "NUL"),
        (h.to_ascii_uppercase(), SAME, "uppercase"),
        (mixed_case(h), SAME, "mixed case"),
        (
            h.replacen('.', "\u{3002}", 1),
            REFUSED,
            "ideographic full stop",
        ),
        (
            h.replacen('.', "\u{ff0e}", 1),
            REFUSED,
            "fullwidth full stop",
        ),
        (fullwidth_first(h), REFUSED, "a fullwidth letter"),
    ];
    table.extend(
        HOMOGLYPHS
            .iter()
            .filter(|(ascii, _)| h.contains(*ascii))
            .map(|(ascii, glyph)| {
                (
                    h.replacen(*ascii, &glyph.to_string(), 1),
                    REFUSED,
                    "homoglyph",
                )
            }),
    );
    if let Some((first, rest)) = h.split_once('.').filter(|_| !pattern.open_first_label) {
        table.push((format!("1{h}"), REFUSED, "a character glued before"));
        table.push((format!("xn--{h}"), REFUSED, "punycode prefix"));
        table.push((format!("xn--{first}-9ja.{rest}"), REFUSED, "punycode label"));
    }
    table
}

/// IP literals and other hosts no pattern may match.
const FOREIGN: [&str; 8] = [
    "127.0.0.1",
    "[::1]",
    "2130706433",
    "0x7f.0.0.1",
    "169.254.169.254",
    "[::ffff:127.0.0.1]",
    "localhost",
    "",
];

fn mixed_case(h: &str) -> String {
    h.chars()
        .enumerate()
        .map(|(i, c)| match i % 2 {
            0 => c.to_ascii_uppercase(),
            _ => c,
        })
        .collect()
}

fn fullwidth_first(h: &str) -> String {
    let Some(index) = h.find(|c: char| c.is_ascii_lowercase()) else {
        return format!("\u{ff41}{h}");
    };
    let letter = h[index..].chars().next().unwrap_or('a');
    let wide = char::from_u32(letter as u32 + 0xfee0).unwrap_or('\u{ff41}');
    format!("{}{wide}{}", &h[..index], &h[index + 1..])
}

/// Runs the table of tricks over every valid host of `pattern`; panics naming each failure.
pub(crate) fn assert_tricks_refused(pattern: &Pattern) {
    let mut failures = Vec::new();
    for valid in pattern.valid {
        let Some(answer) = (pattern.accept)(valid) else {
            failures.push(format!("valid host '{valid}' is refused"));
            continue;
        };
        for (host, same, trick) in tricks(valid, pattern) {
            let expected = same.then(|| answer.clone());
            let got = (pattern.accept)(&host);
            if got != expected {
                failures.push(format!(
                    "{trick}: {host:?} gave {got:?}, expected {expected:?}"
                ));
            }
        }
    }
    for host in FOREIGN {
        if let Some(got) = (pattern.accept)(host) {
            failures.push(format!("foreign host {host:?} accepted as {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{}:\n{}",
        pattern.name,
        failures.join("\n")
    );
}

/// The property: `label` added before or after valid host number `index` of `pattern` (as a
/// label of its own, or glued to the first or last label) is never matched.
pub(crate) fn extra_label_refused(
    pattern: &Pattern,
    index: usize,
    label: &str,
) -> Result<(), String> {
    let host = pattern.valid[index % pattern.valid.len()];
    let mut variants = vec![format!("{label}.{host}"), format!("{host}{label}")];
    if !pattern.open_first_label {
        variants.push(format!("{label}{host}"));
    }
    let extension = pattern
        .extensions
        .iter()
        .any(|e| e.eq_ignore_ascii_case(label));
    if !extension {
        variants.push(format!("{host}.{label}"));
    }
    match variants
        .iter()
        .find_map(|v| (pattern.accept)(v).map(|got| (v, got)))
    {
        Some((variant, got)) => Err(format!("{}: {variant:?} accepted as {got}", pattern.name)),
        None => Ok(()),
    }
}

/// The labels of the property test: what a registrant may put before or after a name.
pub(crate) const LABEL: &str = "[a-zA-Z0-9-]{1,24}";
