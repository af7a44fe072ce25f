//! The SSH key pair of the Kafka client, imported from a public key in the plan. pinfra never
//! creates or writes private keys. EC2 cannot change a key pair's material: a new public key
//! replaces the key pair (and, since a key is given at launch, the instance).

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::aws::ec2_tags;
use crate::aws::{Aws, AwsError, Classify};
use crate::engine::{Change, FieldChange, Fields, Inputs, Kind, Outputs, ResourceError, ResourceId, Tags, Value};

/// The kind name.
pub const KIND: &str = "ec2_key_pair";
/// The tag recording which public key was imported (EC2 reports only a fingerprint).
pub const TAG_KEY_SHA256: &str = "pinfra:public-key-sha256";

/// The digest pinfra records of a public key: of its type and body, without the comment.
pub fn key_digest(public_key: &str) -> String {
    let canonical: Vec<&str> = public_key.split_whitespace().take(2).collect();
    Sha256::digest(canonical.join(" ").as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The key pair as the plan declares it.
#[derive(Debug, Clone)]
pub struct Ec2KeyPair {
    /// Key pair name.
    pub name: String,
    /// The OpenSSH public key.
    pub public_key: String,
    /// Tags, ownership included.
    pub tags: Tags,
}

/// What the plan wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    digest: String,
    tags: Tags,
}

/// What EC2 has.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    id: String,
    tags: Tags,
}

impl Ec2KeyPair {
    fn all_tags(&self) -> Vec<Tag> {
        let mut tags = self.tags.clone();
        tags.insert(TAG_KEY_SHA256.to_owned(), key_digest(&self.public_key));
        ec2_tags::to_ec2(&tags)
    }
}

impl Kind for Ec2KeyPair {
    type Desired = Desired;
    type Live = Live;

    fn id(&self) -> ResourceId {
        ResourceId::new(KIND, &self.name)
    }

    async fn observe(&self, aws: &Aws) -> Result<Option<Live>, AwsError> {
        match aws.ec2.describe_key_pairs().key_names(&self.name).send().await.or_aws("ec2:DescribeKeyPairs") {
            Ok(out) => Ok(out
                .key_pairs()
                .first()
                .map(|k| Live { id: k.key_pair_id().unwrap_or_default().to_owned(), tags: ec2_tags::from_ec2(k.tags()) })),
            Err(e) if e.is_code(&["InvalidKeyPair.NotFound"]) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn desired(&self, _inputs: &Inputs) -> Desired {
        Desired { digest: key_digest(&self.public_key), tags: self.tags.clone() }
    }

    fn diff(desired: &Desired, live: Option<&Live>) -> Result<Vec<FieldChange>, ResourceError> {
        let mut fields = Fields::new(live.is_none());
        fields.known("public_key_sha256", desired.digest.clone(), live.map(|l| Json::from(l.tags.get(TAG_KEY_SHA256).cloned())), true);
        fields.tags("tags", &desired.tags, live.map(|l| &l.tags));
        Ok(fields.finish())
    }

    const OUTPUTS: &'static [&'static str] = &["name", "public_key_sha256"];

    fn live_tags(live: &Live) -> Option<&Tags> {
        Some(&live.tags)
    }

    fn outputs(&self, _live: &Live) -> Outputs {
        Outputs::from([("name", Value::of(self.name.clone())), ("public_key_sha256", Value::of(key_digest(&self.public_key)))])
    }

    async fn apply(&self, aws: &Aws, _desired: &Desired, live: Option<&Live>, change: &Change) -> Result<Outputs, ResourceError> {
        match live {
            Some(live) if change.action != crate::engine::Action::Replace => {
                aws.ec2.create_tags().resources(&live.id).set_tags(Some(self.all_tags())).send().await.or_aws("ec2:CreateTags")?;
            }
            _ => {
                if live.is_some() {
                    aws.ec2.delete_key_pair().key_name(&self.name).send().await.or_aws("ec2:DeleteKeyPair")?;
                }
                aws.ec2
                    .import_key_pair()
                    .key_name(&self.name)
                    .public_key_material(aws_smithy_types::Blob::new(self.public_key.as_bytes()))
                    .tag_specifications(
                        TagSpecification::builder().resource_type(ResourceType::KeyPair).set_tags(Some(self.all_tags())).build(),
                    )
                    .send()
                    .await
                    .or_aws("ec2:ImportKeyPair")?;
            }
        }
        Ok(self.outputs(&Live { id: String::new(), tags: Tags::new() }))
    }

    async fn delete(&self, aws: &Aws, _live: &Live) -> Result<(), ResourceError> {
        aws.ec2.delete_key_pair().key_name(&self.name).send().await.or_aws("ec2:DeleteKeyPair")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_ignores_the_comment_and_spacing() {
        let a = key_digest("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample you@laptop");
        assert_eq!(a, key_digest("ssh-ed25519   AAAAC3NzaC1lZDI1NTE5AAAAIExample   other-comment"));
        assert_ne!(a, key_digest("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther you@laptop"));
    }

    #[test]
    fn a_new_key_replaces_the_key_pair() {
        let desired = Desired { digest: "new".into(), tags: Tags::new() };
        let live = Live { id: "key-1".into(), tags: Tags::from([(TAG_KEY_SHA256.to_owned(), "old".to_owned())]) };
        let changes = Ec2KeyPair::diff(&desired, Some(&live)).unwrap();
        assert_eq!(changes.len(), 1);
        assert!(changes[0].forces_replace);
    }
}
