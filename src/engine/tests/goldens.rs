//! Golden files of whole-plan diffs: the engine's planner (`Engine::plan`, `Engine::plan_destroy`)
//! over a pipeline-shaped graph of fake resources, from fixture clouds, printed by the real
//! `render::text`. The files are insta snapshots in `src/engine/tests/snapshots/`; review a
//! change with `cargo insta review`, or rewrite them with `INSTA_UPDATE=always`.
//!
//! The graph: a read-only cluster; a role that needs the cluster's ARN, and its instance
//! profile; two planned topics and two unlisted ones under the prefix (one left alone, one
//! pruned); a bucket; an instance that needs the profile.
//!
//! The real registry and kinds get the same from fixture observations in
//! `crate::resources::tests`.

use std::fmt::Write as _;

use super::fake::{Cloud, Fake, Live, fake, ours, theirs};
use super::{engine, observe};
use crate::engine::Presence;
use crate::engine::render::{Style, text};

struct Pipeline {
    cloud: Cloud,
    cluster: Fake,
    role: Fake,
    profile: Fake,
    topics: [Fake; 2],
    unlisted: Fake,
    pruned: Fake,
    bucket: Fake,
    instance: Fake,
}

impl Pipeline {
    /// The plan's resources; only the cluster exists.
    fn new() -> Self {
        let cloud = Cloud::default();
        let cluster = fake(&cloud, "msk_cluster", "pinterest").read_only();
        let role = fake(&cloud, "iam_role", "0a1b-ec2-access-role").after(&[&cluster]);
        let profile = fake(&cloud, "iam_instance_profile", "0a1b-ec2-access-role").after(&[&role]);
        let topic = |name: &str| fake(&cloud, "msk_topic", name).untagged().after(&[&cluster]);
        let topics = [topic("0a1b.pin"), topic("0a1b.geo")];
        let unlisted =
            topic("0a1b.scratch").presence(Presence::Unmanaged("under the topic prefix but not in the plan; `--prune` deletes it"));
        let pruned = topic("0a1b.old").presence(Presence::Unwanted);
        let bucket = fake(&cloud, "s3_bucket", "user-0a1b-bucket");
        let instance = fake(&cloud, "ec2_instance", "0a1b-kafka-client").after(&[&profile, &role]);
        cloud.put(&cluster.id(), Live::tagged(None));
        Pipeline { cloud, cluster, role, profile, topics, unlisted, pruned, bucket, instance }
    }

    /// The nodes in registry order; an unlisted topic is a node only when it exists, as
    /// `resources::for_plan` makes one per listed topic.
    fn nodes(&self) -> Vec<&Fake> {
        let exists = |node: &Fake| self.cloud.world().resources.contains_key(&node.id());
        let unlisted = [&self.unlisted, &self.pruned].into_iter().filter(|node| exists(node));
        let [pin, geo] = &self.topics;
        [&self.cluster, &self.role, &self.profile, pin, geo].into_iter().chain(unlisted).chain([&self.bucket, &self.instance]).collect()
    }

    /// Puts `node` in the cloud as the plan wants it, tagged as `owner`'s.
    fn put(&self, node: &Fake, owner: Option<&crate::engine::Ownership>) {
        let live = if [&self.topics[0], &self.topics[1], &self.unlisted, &self.pruned].iter().any(|t| t.id() == node.id()) {
            Live::untagged()
        } else {
            Live::tagged(owner)
        };
        let upstream = [(&self.role, &self.cluster), (&self.profile, &self.role), (&self.instance, &self.profile)]
            .into_iter()
            .chain(self.topics.iter().chain([&self.unlisted, &self.pruned]).map(|t| (t, &self.cluster)))
            .find(|(dependent, _)| dependent.id() == node.id())
            .map(|(_, dependency)| format!("arn:fake:{}/{}", dependency.id().kind, dependency.id().name));
        self.cloud.put(&node.id(), Live { upstream, ..live });
    }

    /// Everything the plan wants exists as planned and carries its tags.
    fn converged(self) -> Self {
        for node in [&self.role, &self.profile, &self.topics[0], &self.topics[1], &self.bucket, &self.instance] {
            self.put(node, Some(&ours()));
        }
        self
    }

    /// The diff `diff` prints, unchanged resources listed too; refusals as `diff` reports them.
    async fn diff(&self) -> String {
        let engine = engine(&self.nodes());
        match engine.plan(&observe(&engine).await) {
            Ok(planned) => text(&planned, Style { color: false, show_unchanged: true }),
            Err(failures) => {
                let mut out = String::new();
                for (id, error) in failures {
                    let _ = writeln!(out, "error: {id}: {error}\n  hint: {}", error.hint().unwrap_or_default());
                }
                out
            }
        }
    }
}

#[tokio::test]
async fn fresh() {
    insta::assert_snapshot!(Pipeline::new().diff().await);
}

#[tokio::test]
async fn converged() {
    insta::assert_snapshot!(Pipeline::new().converged().diff().await);
}

/// Drift on resources the plan owns: a value changed by hand, a fixed field, a deleted profile.
#[tokio::test]
async fn drift() {
    let pipeline = Pipeline::new().converged();
    pipeline.cloud.world().resources.get_mut(&pipeline.bucket.id()).unwrap().value = "by hand".into();
    pipeline.cloud.world().resources.get_mut(&pipeline.topics[1].id()).unwrap().size = 3;
    pipeline.cloud.world().resources.remove(&pipeline.profile.id());
    insta::assert_snapshot!(pipeline.diff().await);
}

/// A hand-built pipeline: the role and the bucket exist without pinfra's tags.
#[tokio::test]
async fn adopt() {
    let pipeline = Pipeline::new();
    pipeline.put(&pipeline.role, None);
    pipeline.put(&pipeline.bucket, None);
    pipeline.cloud.world().resources.get_mut(&pipeline.bucket.id()).unwrap().value = "by hand".into();
    insta::assert_snapshot!(pipeline.diff().await);
}

/// Another environment's role and bucket answer to this plan's names.
#[tokio::test]
async fn foreign() {
    let pipeline = Pipeline::new().converged();
    pipeline.put(&pipeline.role, Some(&theirs()));
    pipeline.put(&pipeline.bucket, Some(&theirs()));
    insta::assert_snapshot!(pipeline.diff().await);
}

/// Unlisted topics under the prefix: one pruned, one left alone.
#[tokio::test]
async fn prune() {
    let pipeline = Pipeline::new().converged();
    pipeline.put(&pipeline.unlisted, None);
    pipeline.put(&pipeline.pruned, None);
    insta::assert_snapshot!(pipeline.diff().await);
}

/// `destroy` of a converged pipeline, with a hand-built bucket of the plan's name.
#[tokio::test]
async fn destroy() {
    let pipeline = Pipeline::new().converged();
    pipeline.put(&pipeline.pruned, None);
    pipeline.put(&pipeline.bucket, None);
    let engine = engine(&pipeline.nodes());
    let planned = engine.plan_destroy(&observe(&engine).await).unwrap();
    insta::assert_snapshot!(text(&planned, Style::default()));
}
