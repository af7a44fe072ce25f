//! EC2's tag lists and pinfra's tag maps (`engine::Tags`), converted in one place for every
//! EC2 resource kind and the network read. Here, beside the clients, so that both can use it
//! without depending on each other.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Tag;

/// A tag map (`crate::engine::Tags`).
type Tags = BTreeMap<String, String>;

/// Tags as EC2 takes them.
pub fn to_ec2(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// Tags as EC2 reports them, as a map.
pub fn from_ec2(tags: &[Tag]) -> Tags {
    tags.iter().filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned()))).collect()
}
