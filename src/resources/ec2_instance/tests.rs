//! Unit tests of `ec2_instance`: the pure diff, a hand-built instance held to the plan, the client token.

use super::*;

fn desired(user_data: &str) -> Desired {
    Desired {
        ami: Some("ami-12345678".into()),
        ami_pinned: false,
        instance_type: "t3.micro".into(),
        profile: "p".into(),
        profile_id: Value::of("AIPA1"),
        security_group: Value::of("sg-1"),
        extra_groups: Vec::new(),
        user_data: Value::of(user_data),
        root_volume_gib: 20,
        root_volume_encrypted: true,
        imdsv2: true,
        manage_user_data: true,
        key: None,
        render_error: None,
        placement: Placement::Default,
        tags: Tags::from([("Name".into(), "n".into())]),
    }
}

fn live(user_data: &str) -> Live {
    Live {
        id: "i-1".into(),
        state: "running".into(),
        ami: "ami-00000000".into(),
        instance_type: "t3.micro".into(),
        profile_arn: Some("arn:aws:iam::123456789012:instance-profile/p".into()),
        profile_id: Some("AIPA1".into()),
        http_tokens: Some("required".into()),
        security_groups: vec!["sg-1".into()],
        user_data_sha256: Some(sha256(user_data)),
        root_volume: Some((20, true)),
        key_name: None,
        public_dns: Some("ec2-1.compute.amazonaws.com".into()),
        public_ip: Some("203.0.113.1".into()),
        subnet_id: Some("subnet-pub".into()),
        private_ip: Some("10.0.101.5".into()),
        tags: Tags::from([("Name".into(), "n".into())]),
    }
}

#[test]
#[allow(clippy::type_complexity)] // a table of test cases
fn diff_table() {
    let with = |f: fn(&mut Live)| {
        let mut l = live("#!/bin/bash\n");
        f(&mut l);
        Some(l)
    };
    let cases: Vec<(&str, Option<Live>, Vec<(&str, bool)>)> = vec![
        ("converged (a newer AL2023 AMI is no change)", with(|_| {}), vec![]),
        ("user-data changed: replace", with(|l| l.user_data_sha256 = Some("0".into())), vec![("user_data_sha256", true)]),
        ("type changed: in place", with(|l| l.instance_type = "t3.small".into()), vec![("instance_type", false)]),
        ("IMDSv1 allowed: in place", with(|l| l.http_tokens = Some("optional".into())), vec![("metadata_http_tokens", false)]),
        ("unencrypted volume: replace", with(|l| l.root_volume = Some((20, false))), vec![("root_volume", true)]),
        ("other group: in place", with(|l| l.security_groups = vec!["sg-2".into()]), vec![("security_groups", false)]),
        (
            "a profile made again under the same name: re-associated in place",
            with(|l| l.profile_id = Some("AIPA0".into())),
            vec![("instance_profile", false)],
        ),
        ("no profile: associated in place", with(|l| l.profile_arn = None), vec![("instance_profile", false)]),
    ];
    for (name, live, expected) in cases {
        let changes = Ec2Instance::diff(&desired("#!/bin/bash\n"), live.as_ref()).unwrap();
        let got: Vec<(&str, bool)> = changes.iter().map(|c| (c.path.as_str(), c.forces_replace)).collect();
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn a_hand_built_instance_is_held_to_what_the_plan_says_of_it() {
    let mut d = desired("#!/bin/bash\n");
    d.manage_user_data = false;
    d.root_volume_encrypted = false;
    d.imdsv2 = false;
    let mut l = live("set up by hand over SSH");
    l.user_data_sha256 = None;
    l.root_volume = Some((20, false));
    l.http_tokens = Some("optional".into());
    assert_eq!(Ec2Instance::diff(&d, Some(&l)).unwrap(), vec![], "unmanaged user-data, the live volume and IMDS kept");
    l.root_volume = Some((20, true));
    l.http_tokens = Some("required".into());
    assert_eq!(Ec2Instance::diff(&d, Some(&l)).unwrap(), vec![], "a hardened instance is never weakened");
    l.root_volume = Some((8, false));
    let paths: Vec<String> = Ec2Instance::diff(&d, Some(&l)).unwrap().into_iter().map(|c| c.path).collect();
    assert_eq!(paths, ["root_volume"], "the size is still compared");
    let created = Ec2Instance::diff(&d, None).unwrap();
    let field = |path: &str| created.iter().find(|c| c.path == path).and_then(|c| c.new.clone());
    assert!(field("user_data_sha256").is_some(), "a new instance gets pinfra's user-data");
    assert_eq!(field("metadata_http_tokens"), Some(Value::of("required")), "a new instance requires IMDSv2");
    assert_eq!(field("root_volume"), Some(Value::of(serde_json::json!({"size_gib": 20, "encrypted": true}))), "and is encrypted");
}

#[test]
fn extra_security_groups_are_kept_on_the_instance() {
    let mut d = desired("#!/bin/bash\n");
    d.extra_groups = vec!["sg-0b".into()];
    let mut l = live("#!/bin/bash\n");
    l.security_groups = vec!["sg-0b".into(), "sg-1".into()];
    assert_eq!(Ec2Instance::diff(&d, Some(&l)).unwrap(), vec![], "in any order");
    l.security_groups = vec!["sg-1".into()];
    let changes = Ec2Instance::diff(&d, Some(&l)).unwrap();
    assert_eq!(changes.iter().map(|c| c.path.as_str()).collect::<Vec<_>>(), ["security_groups"]);
    assert_ne!(d.client_token("p/dev"), desired("#!/bin/bash\n").client_token("p/dev"), "another launch");
}

#[test]
fn a_profile_still_to_be_made_again_is_a_change_known_after_apply() {
    let mut d = desired("#!/bin/bash\n");
    d.profile_id = Value::Unknown;
    let changes = Ec2Instance::diff(&d, Some(&live("#!/bin/bash\n"))).unwrap();
    let field = changes.iter().find(|c| c.path == "instance_profile").expect("a change");
    assert_eq!((field.new.clone(), field.forces_replace), (Some(Value::Unknown), false));
    let created = Ec2Instance::diff(&d, None).unwrap();
    let field = created.iter().find(|c| c.path == "instance_profile").expect("listed");
    assert_eq!(field.new, Some(Value::of("p")), "a launch names the profile");
}

#[test]
fn unknown_user_data_is_shown_as_known_after_apply() {
    let mut d = desired("x");
    d.user_data = Value::Unknown;
    let changes = Ec2Instance::diff(&d, None).unwrap();
    let field = changes.iter().find(|c| c.path == "user_data_sha256").unwrap();
    assert_eq!(field.new, Some(Value::Unknown));
    assert_eq!(d.client_token("p/dev"), None, "no launch before the user-data is known");
}

#[test]
fn the_client_token_follows_what_makes_another_instance() {
    let a = desired("one").client_token("p/dev").unwrap();
    assert_eq!(a, desired("one").client_token("p/dev").unwrap(), "stable");
    assert!(a.len() <= 64, "EC2 takes up to 64 characters");
    assert_ne!(a, desired("two").client_token("p/dev").unwrap(), "new user-data, new instance");
    let mut bigger = desired("one");
    bigger.root_volume_gib = 40;
    assert_ne!(a, bigger.client_token("p/dev").unwrap());
    let mut other_group = desired("one");
    other_group.security_group = Value::of("sg-2");
    assert_ne!(a, other_group.client_token("p/dev").unwrap(), "every launch parameter counts");
}
