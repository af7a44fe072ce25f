//! The value rules AWS enforces, checked before anything is sent: a plan that breaks them is
//! reported at the offending value instead of failing half-way through an apply.

/// Why a value is invalid, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// What is wrong.
    pub reason: String,
    /// How to fix it.
    pub hint: Option<String>,
}

fn invalid(reason: impl Into<String>, hint: Option<&str>) -> Result<(), Invalid> {
    Err(Invalid { reason: reason.into(), hint: hint.map(str::to_owned) })
}

/// S3 general purpose bucket naming rules.
pub fn bucket_name(name: &str) -> Result<(), Invalid> {
    let hint = Some("bucket names are 3-63 characters of a-z, 0-9, `.` and `-`, starting and ending with a letter or digit");
    if !(3..=63).contains(&name.len()) {
        return invalid(format!("bucket name `{name}` is {} characters long", name.len()), hint);
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-')) {
        return invalid(format!("bucket name `{name}` contains `{c}`"), hint);
    }
    let first_last_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !first_last_ok(name.chars().next()) || !first_last_ok(name.chars().last()) {
        return invalid(format!("bucket name `{name}` must start and end with a letter or digit"), hint);
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return invalid(format!("bucket name `{name}` has adjacent `.`/`-` characters"), hint);
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return invalid(format!("bucket name `{name}` is formatted as an IP address"), hint);
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return invalid(format!("bucket names may not start with `{prefix}`"), hint);
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return invalid(format!("bucket names may not end with `{suffix}`"), hint);
        }
    }
    Ok(())
}

/// IAM role and instance profile names: `[\w+=,.@-]`, 1 to `max` characters.
pub fn iam_name(name: &str, max: usize) -> Result<(), Invalid> {
    let hint = format!("IAM names are 1-{max} characters of letters, digits and `+=,.@_-`");
    if name.is_empty() || name.len() > max {
        return invalid(format!("IAM name `{name}` is {} characters long", name.len()), Some(&hint));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c))) {
        return invalid(format!("IAM name `{name}` contains `{c}`"), Some(&hint));
    }
    Ok(())
}

/// An AWS region code such as `us-east-1` or `us-gov-west-1`.
pub fn region(region: &str) -> Result<(), Invalid> {
    let parts: Vec<&str> = region.split('-').collect();
    let well_formed = (3..=4).contains(&parts.len())
        && parts[0].len() == 2
        && parts.iter().take(parts.len() - 1).all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts.last().is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if well_formed {
        Ok(())
    } else {
        invalid(format!("`{region}` is not an AWS region code"), Some("use a region code such as `us-east-1` or `eu-west-2`"))
    }
}

/// The parts of an ARN: `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: &'a str,
    /// The service namespace, such as `kafka`.
    pub service: &'a str,
    /// Region, empty for global services.
    pub region: &'a str,
    /// 12-digit account id, empty for some services.
    pub account: &'a str,
    /// Everything after the account.
    pub resource: &'a str,
}

/// Parses an ARN of the given service.
pub fn arn<'a>(value: &'a str, service: &str) -> Result<Arn<'a>, Invalid> {
    let hint = format!("an ARN looks like `arn:aws:{service}:us-east-1:123456789012:...`");
    let mut parts = value.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(svc), Some(region), Some(account), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Invalid { reason: format!("`{value}` is not an ARN"), hint: Some(hint) });
    };
    if !partition.starts_with("aws") {
        return Err(Invalid { reason: format!("`{partition}` is not an AWS partition"), hint: Some(hint) });
    }
    if svc != service {
        return Err(Invalid { reason: format!("expected an ARN of service `{service}`, found `{svc}`"), hint: Some(hint) });
    }
    if !account.is_empty() && (account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit())) {
        return Err(Invalid { reason: format!("`{account}` is not a 12-digit account id"), hint: Some(hint) });
    }
    if resource.is_empty() {
        return Err(Invalid { reason: "the ARN has no resource part".into(), hint: Some(hint) });
    }
    Ok(Arn { partition, service: svc, region, account, resource })
}

/// An MSK cluster ARN: `arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>`.
pub fn cluster_arn(value: &str) -> Result<Arn<'_>, Invalid> {
    let parsed = arn(value, "kafka")?;
    let pieces: Vec<&str> = parsed.resource.split('/').collect();
    if pieces.len() != 3 || pieces[0] != "cluster" || pieces[1].is_empty() || pieces[2].is_empty() {
        return Err(Invalid {
            reason: format!("`{value}` is not an MSK cluster ARN"),
            hint: Some("an MSK cluster ARN ends in `:cluster/<name>/<uuid>`".into()),
        });
    }
    if parsed.region.is_empty() || parsed.account.is_empty() {
        return Err(Invalid { reason: format!("`{value}` lacks a region or account"), hint: None });
    }
    Ok(parsed)
}

/// An MSK cluster name: 1-64 letters, digits and hyphens, starting with a letter or digit.
pub fn cluster_name(name: &str) -> Result<(), Invalid> {
    let ok = (1..=64).contains(&name.len())
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        invalid(
            format!("`{name}` is not a valid MSK cluster name"),
            Some("cluster names are 1-64 letters, digits and hyphens; or give the cluster's ARN"),
        )
    }
}

/// An IPv4 CIDR block such as `10.0.0.0/16`.
pub fn cidr(value: &str) -> Result<ipnet::Ipv4Net, Invalid> {
    let net: ipnet::Ipv4Net = value.parse().map_err(|_| Invalid {
        reason: format!("`{value}` is not an IPv4 CIDR block"),
        hint: Some("write a CIDR block such as `203.0.113.0/24`".into()),
    })?;
    if net.trunc() != net {
        return Err(Invalid { reason: format!("`{value}` has host bits set"), hint: Some(format!("did you mean `{}`?", net.trunc())) });
    }
    Ok(net)
}

/// A TCP port.
pub fn port(value: i64) -> Result<u16, Invalid> {
    u16::try_from(value)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| Invalid { reason: format!("{value} is not a TCP port"), hint: Some("ports are 1-65535".into()) })
}

/// A Kafka topic name: 1-249 characters of letters, digits, `.`, `_` and `-`, not `.` or `..`.
pub fn topic_name(name: &str) -> Result<(), Invalid> {
    let hint = Some("Kafka topic names are 1-249 characters of letters, digits, `.`, `_` and `-`");
    if name.is_empty() || name.len() > 249 || name == "." || name == ".." {
        return invalid(format!("`{name}` is not a valid Kafka topic name"), hint);
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || ".-_".contains(*c))) {
        return invalid(format!("topic name `{name}` contains `{c}`"), hint);
    }
    Ok(())
}

/// A topic prefix: a topic name that ends in a delimiter (`.`, `_` or `-`). The role's grants
/// are `<prefix>*`: without a delimiter, the prefix `0a1b` would also grant the topics and
/// groups of the user id `0a1b2`.
pub fn topic_prefix(prefix: &str) -> Result<(), Invalid> {
    topic_name(prefix)?;
    if !prefix.ends_with(['.', '_', '-']) {
        return Err(Invalid {
            reason: format!(
                "the topic prefix `{prefix}` does not end in a delimiter, so it also covers `{prefix}x.*`, another prefix's topics"
            ),
            hint: Some(format!("end it with `.`, `_` or `-`, such as `{prefix}.`")),
        });
    }
    Ok(())
}

/// Whether a Kafka version string (`3.6.0`, `3.7.x`, `3.8.x.kraft`) is 3.6 or later, which the
/// MSK topic API needs.
pub fn kafka_version_at_least_3_6(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (3, 6),
        (Some(major), None) => major > 3,
        _ => false,
    }
}

/// An EC2 resource id such as `subnet-0a1b2c3d` or `sg-0a1b2c3d`.
pub fn ec2_id(value: &str, prefix: &str) -> Result<(), Invalid> {
    let ok = value
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    if ok {
        Ok(())
    } else {
        invalid(format!("`{value}` is not a {prefix} id"), Some(&format!("{prefix} ids look like `{prefix}-0a1b2c3d4e5f60718`")))
    }
}

/// A software version such as `3.6.0` or `2.13`: digits, letters, `.`, `-` and `_` only, so it
/// can stand in a path and a shell script without quoting.
pub fn version(value: &str) -> Result<(), Invalid> {
    let ok = !value.is_empty()
        && value.len() <= 32
        && value.chars().next().is_some_and(|c| c.is_ascii_digit())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c));
    if ok {
        Ok(())
    } else {
        invalid(format!("`{value}` is not a version"), Some("versions are digits, letters, `.`, `-` and `_`, such as `3.6.0`"))
    }
}

/// A URL without a user name or password in it (`https://user:password@host/`): the plan is
/// shared and committed, and a URL is printed in messages, logs and the instance's user-data.
pub fn url_without_credentials(value: &str) -> Result<(), Invalid> {
    let authority = value.split_once("://").map_or("", |(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or_default());
    if authority.contains('@') {
        return invalid(
            "the URL holds a user name or password (`user:password@`)",
            Some(
                "remove the credentials and rotate them; use a URL that needs none (a mirror, a presigned S3 URL), or download the file yourself and name it in `source`",
            ),
        );
    }
    Ok(())
}

/// An https URL without shell or quoting syntax or credentials in it (it ends up in a shell
/// script).
pub fn https_url(value: &str) -> Result<(), Invalid> {
    url_without_credentials(value)?;
    let Some(rest) = value.strip_prefix("https://") else {
        return invalid(format!("`{value}` is not an https URL"), Some("downloads must use https"));
    };
    if rest.is_empty() || value.len() > 2048 {
        return invalid(format!("`{value}` is not an https URL"), None);
    }
    if let Some(c) = rest.chars().find(|c| !(c.is_ascii_alphanumeric() || "-._~:/?#[]@!&+,;=%".contains(*c))) {
        return invalid(
            format!("URL `{value}` contains `{c}`"),
            Some("URLs may hold letters, digits and `-._~:/?#[]@!&+,;=%` only; percent-encode anything else"),
        );
    }
    Ok(())
}

/// An EC2 security group name: 1-255 characters of letters, digits, spaces and `._-:/()#,@[]+=&;{}!$*`,
/// not starting with `sg-`.
pub fn security_group_name(name: &str) -> Result<(), Invalid> {
    if name.is_empty() || name.len() > 255 || name.starts_with("sg-") {
        return invalid(format!("`{name}` is not a valid security group name"), Some("1-255 characters, not starting with `sg-`"));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(*c))) {
        return invalid(format!("security group name `{name}` contains `{c}`"), None);
    }
    Ok(())
}

/// An EC2 instance type such as `t3.micro`: a family and a size.
pub fn instance_type(value: &str) -> Result<(), Invalid> {
    let ok = value.split_once('.').is_some_and(|(family, size)| {
        !family.is_empty()
            && !size.is_empty()
            && family.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && size.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    if ok {
        Ok(())
    } else {
        invalid(format!("`{value}` is not an EC2 instance type"), Some("instance types look like `t3.micro` or `m7g.large`"))
    }
}

/// An OpenSSH public key (`ssh-ed25519 AAAA... comment`); a private key is refused outright.
pub fn ssh_public_key(value: &str) -> Result<(), Invalid> {
    if value.contains("PRIVATE KEY") {
        return invalid("this is a private key", Some("give the public key (the `.pub` file); pinfra never handles private keys"));
    }
    let mut parts = value.split_whitespace();
    let kind_ok = parts
        .next()
        .is_some_and(|k| ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"].contains(&k));
    let body_ok = parts.next().is_some_and(|b| b.len() >= 16 && b.chars().all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c)));
    if kind_ok && body_ok {
        Ok(())
    } else {
        invalid("not an OpenSSH public key", Some("paste the line from your `.pub` file, such as `ssh-ed25519 AAAAC3Nza... you@host`"))
    }
}

/// A character of a tag key or value. IAM's rule is the strictest of the services pinfra tags
/// (botocore `iam/2010-05-08` `tagKeyType`/`tagValueType`: `[\p{L}\p{Z}\p{N}_.:/=+\-@]`; EC2,
/// S3, MSK Connect and API Gateway take these too), and the plan's tags go on its IAM role. Of
/// `\p{Z}` only `\p{Zs}` (spaces): the line and paragraph separators act as line breaks on some
/// terminals.
fn tag_char_ok(c: char) -> bool {
    static ALLOWED: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"^[\p{L}\p{Zs}\p{N}_.:/=+\-@]$").ok());
    let mut buffer = [0; 4];
    ALLOWED.as_ref().is_some_and(|r| r.is_match(c.encode_utf8(&mut buffer)))
}

const TAG_CHARACTERS: &str = "tags hold letters, digits, spaces and `_ . : / = + - @` only";

/// A tag value (`what` says whose): 0-256 characters of [`tag_char_ok`].
pub fn tag_value(what: &str, value: &str) -> Result<(), Invalid> {
    if value.chars().count() > 256 {
        return invalid(format!("{what} is longer than 256 characters"), None);
    }
    if let Some(c) = value.chars().find(|c| !tag_char_ok(*c)) {
        return invalid(format!("{what} contains `{}`", crate::terminal::escape(&c.to_string())), Some(TAG_CHARACTERS));
    }
    Ok(())
}

/// A user tag: AWS's lengths (in characters, as AWS counts them) and characters, and no
/// reserved prefixes.
pub fn tag(key: &str, value: &str) -> Result<(), Invalid> {
    let length = key.chars().count();
    let key_shown = crate::terminal::escape(key);
    if length == 0 || length > 128 {
        return invalid(format!("tag key `{key_shown}` must be 1-128 characters"), None);
    }
    if let Some(c) = key.chars().find(|c| !tag_char_ok(*c)) {
        return invalid(format!("tag key `{key_shown}` contains `{}`", crate::terminal::escape(&c.to_string())), Some(TAG_CHARACTERS));
    }
    tag_value(&format!("tag value for `{key_shown}`"), value)?;
    if key.starts_with("aws:") {
        return invalid(format!("tag key `{key_shown}` uses the reserved `aws:` prefix"), Some("remove the `aws:` prefix"));
    }
    if key.starts_with("pinfra:") {
        return invalid(format!("tag key `{key_shown}` uses the `pinfra:` prefix, which pinfra sets itself"), Some("choose another key"));
    }
    Ok(())
}

/// A name AWS takes as free text (a REST API's, a key pair's): no control characters, which
/// would reach every terminal that lists it.
pub fn printable(what: &str, value: &str) -> Result<(), Invalid> {
    match value.chars().find(|c| crate::terminal::is_unsafe(*c)) {
        Some(c) => invalid(
            format!("{what} contains the control character `{}`", crate::terminal::escape(&c.to_string())),
            Some("remove it: names are shown on terminals, where control characters move the cursor, clear the screen or forge lines"),
        ),
        None => Ok(()),
    }
}

/// The user id and environment name end up in bucket and IAM names, so they keep to the
/// characters both accept.
pub fn identifier(what: &str, value: &str, max: usize) -> Result<(), Invalid> {
    let ok = (1..=max).contains(&value.len())
        && value.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        invalid(
            format!("{what} `{value}` must be 1-{max} lowercase letters, digits or `-`, starting with a letter or digit"),
            Some("it is used in bucket and IAM names, which only accept these characters everywhere"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        let cases = [
            ("user-0a1b2c3d4e5f-bucket", true),
            ("ab", false),
            ("Upper-case", false),
            ("-leading", false),
            ("trailing-", false),
            ("a..b", false),
            ("192.168.5.4", false),
            ("xn--bucket", false),
            ("my-bucket-s3alias", false),
            ("my.bucket.name", true),
            ("under_score", false),
        ];
        for (name, ok) in cases {
            assert_eq!(bucket_name(name).is_ok(), ok, "{name}");
        }
    }

    #[test]
    fn cluster_arns() {
        assert!(cluster_arn("arn:aws:kafka:us-east-1:123456789012:cluster/pinterest-msk-cluster/5f9a8e0c-1").is_ok());
        assert!(cluster_arn("arn:aws:kafka:us-east-1:123456789012:topic/c/u/t").is_err());
        assert!(cluster_arn("arn:aws:s3:::bucket").is_err());
        assert!(cluster_arn("arn:aws:kafka:us-east-1:1234:cluster/a/b").is_err());
        assert!(cluster_arn("not-an-arn").is_err());
    }

    #[test]
    fn regions() {
        for ok in ["us-east-1", "eu-west-2", "us-gov-west-1", "ap-southeast-3"] {
            assert!(region(ok).is_ok(), "{ok}");
        }
        for bad in ["us-east", "useast1", "US-EAST-1", "", "us--1"] {
            assert!(region(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cidrs_and_ports() {
        assert!(cidr("10.0.0.0/16").is_ok());
        assert_eq!(cidr("10.0.0.1/16").unwrap_err().hint.as_deref(), Some("did you mean `10.0.0.0/16`?"));
        assert!(cidr("10.0.0.0/33").is_err());
        assert!(cidr("example").is_err());
        assert_eq!(port(8082), Ok(8082));
        assert!(port(0).is_err());
        assert!(port(70000).is_err());
    }

    #[test]
    fn kafka_versions_and_ec2_ids() {
        for (version, ok) in [
            ("3.6.0", true),
            ("3.7.x", true),
            ("3.8.x.kraft", true),
            ("4.0.x.kraft", true),
            ("3.5.1", false),
            ("2.8.1", false),
            ("x", false),
        ] {
            assert_eq!(kafka_version_at_least_3_6(version), ok, "{version}");
        }
        assert!(ec2_id("subnet-0a1b2c3d", "subnet").is_ok());
        assert!(ec2_id("subnet-0a0a0a0a0a0a0a0a1", "subnet").is_ok());
        assert!(ec2_id("sg-12345678", "subnet").is_err());
        assert!(ec2_id("subnet-XYZ", "subnet").is_err());
    }

    #[test]
    fn versions_and_urls_hold_no_shell_syntax() {
        for ok in ["3.6.0", "2.13", "7.6.1", "3.8.x.kraft"] {
            assert!(version(ok).is_ok(), "{ok}");
        }
        for bad in ["", "x3", "3.6.0;rm -rf /", "$(id)", "3 6", "`id`", "3.6\n"] {
            assert!(version(bad).is_err(), "{bad}");
        }
        assert!(https_url("https://archive.apache.org/dist/kafka/3.6.0/kafka_2.13-3.6.0.tgz").is_ok());
        for with_credentials in
            ["https://alice:hunter2@example.com/k.tgz", "https://token@example.com/k.tgz", "http://127.0.0.1:x@evil.example/"]
        {
            let refused = url_without_credentials(with_credentials).unwrap_err();
            assert!(!refused.reason.contains("hunter2") && !refused.reason.contains("token@"), "{refused:?}");
        }
        assert!(url_without_credentials("https://example.com/a@b.zip").is_ok(), "an @ in the path is no credential");
        for bad in
            ["http://example.com/x", "https://x/$(id)", "https://x/`id`", "https://x/a b", "https://x/\"q\"", "https://x/'q'", "https://"]
        {
            assert!(https_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn topic_names() {
        for ok in ["0a1b.pin", "a_b-c.D", &"t".repeat(249)] {
            assert!(topic_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "with space", "a/b", &"t".repeat(250)] {
            assert!(topic_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn iam_names_and_tags() {
        assert!(iam_name("0a1b-ec2-access-role", 64).is_ok());
        assert!(iam_name("role with space", 64).is_err());
        assert!(iam_name(&"r".repeat(65), 64).is_err());
        assert!(tag("team", "data").is_ok());
        assert!(tag("aws:x", "y").is_err());
        assert!(tag("pinfra:env", "y").is_err());
        assert!(tag("Équipe données", "naïve value 42 _.:/=+-@").is_ok(), "IAM's pattern takes Unicode letters and spaces");
        assert!(tag(&"é".repeat(128), &"ü".repeat(256)).is_ok(), "lengths are in characters, not bytes");
    }

    /// Tag keys and names holding ESC, BEL or newlines passed `validate`, and `diff` printed them
    /// raw: they could clear the screen, retitle the window or forge lines of a diff.
    #[test]
    fn control_characters_in_tags_and_names_are_refused() {
        for key in ["team\u{1b}[2J", "a\nb", "bell\u{7}", "rtl\u{202e}", "line\u{2028}sep", "tab\tkey"] {
            let refused = tag(key, "v").unwrap_err();
            assert!(refused.reason.contains("contains `\\"), "{key:?}: {refused:?}");
            assert!(!refused.reason.contains(['\u{1b}', '\n', '\u{7}']), "{refused:?}");
        }
        assert!(tag("team", "data\u{1b}]0;pwned\u{7}").is_err());
        assert!(printable("API name", "api\r\n+ forged line").is_err());
        assert!(printable("API name", "0a1b2c3d4e5f-api (dev)").is_ok());
    }
}
