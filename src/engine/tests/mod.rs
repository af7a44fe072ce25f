//! The engine's own tests, against a fake kind whose cloud is a map in memory ([`fake`]): the
//! ownership table of `Node::plan`, the plan's claim on its untagged resources, the order of
//! `Engine::new`, and how `apply` and `destroy` order, skip and stop. The planner's goldens
//! are in [`goldens`].

mod fake;
mod goldens;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use super::{Action, Claim, Engine, GraphError, NodeOutcome, Observed, Outcome, Ownership, Planned, Presence, ResourceError, ResourceId};
use fake::{Behaviour, Cloud, Fake, Live, Stranger, aws, fake, ours, theirs};

fn engine(nodes: &[&Fake]) -> Engine {
    Engine::new(nodes.iter().map(|n| n.node()).collect(), ours(), 8).unwrap()
}

async fn observe(engine: &Engine) -> Observed {
    engine.observe(&aws()).await.unwrap()
}

/// Each resource's name and action, in the plan's order.
fn actions(planned: &Planned) -> Vec<(String, Action)> {
    planned.changes.iter().map(|c| (c.id.name.clone(), c.action)).collect()
}

/// Each resource's outcome by name: `done create`, `failed create`, `skipped: <reason>`.
fn outcomes(outcome: &Outcome) -> BTreeMap<String, String> {
    outcome
        .results
        .iter()
        .map(|(id, o)| {
            let shown = match o {
                NodeOutcome::Done { action, .. } => format!("done {action:?}"),
                NodeOutcome::Failed { action, .. } => format!("failed {action:?}"),
                NodeOutcome::Skipped { reason } => format!("skipped: {reason}"),
            };
            (id.name.clone(), shown)
        })
        .collect()
}

fn refusals(failures: &[(ResourceId, ResourceError)]) -> Vec<String> {
    failures.iter().map(|(id, e)| format!("{}: {e}", id.name)).collect()
}

/// What planning one resource should give.
#[derive(Debug)]
enum Expect {
    /// This action, with a note containing this text (`None`: no note).
    Act(Action, Option<&'static str>),
    /// A refusal whose message contains this text.
    Refused(&'static str),
}

/// One row of the ownership table: its name, the presence, what the cloud has, the planned
/// `(value, size)`, and the verdict.
type Row = (&'static str, Presence, Option<Live>, (&'static str, u32), Expect);

/// The ownership table: presence × who owns the live resource × whether it differs in place or
/// in a field that forces a replacement. Kinds with tags; the untagged ones depend on the claim
/// and have their own tests below.
#[tokio::test]
async fn the_ownership_table() {
    use Action::*;
    use Expect::*;
    let half_tagged = Live { tags: Some([(super::TAG_PLAN.to_owned(), "pipeline".to_owned())].into()), ..Live::tagged(None) };
    let in_use = Live { in_use_by: Some("a connector outside the plan".into()), ..Live::tagged(Some(&ours())) };
    let wanted = Presence::Wanted;
    let unwanted = Presence::Unwanted;
    let unmanaged = Presence::Unmanaged("left to the person who made it");
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("wanted, absent", wanted, None, ("v1", 1), Act(Create, None)),
        ("wanted, ours, same", wanted, Some(Live::tagged(Some(&ours()))), ("v1", 1), Act(NoOp, None)),
        ("wanted, ours, differs in place", wanted, Some(Live::tagged(Some(&ours()))), ("v2", 1), Act(Update, None)),
        ("wanted, ours, differs in a fixed field", wanted, Some(Live::tagged(Some(&ours()))), ("v1", 2), Act(Replace, None)),
        ("wanted, unowned, same", wanted, Some(Live::tagged(None)), ("v1", 1), Act(Adopt, Some("it is kept and tagged, not re-created"))),
        ("wanted, unowned, differs in place", wanted, Some(Live::tagged(None)), ("v2", 1), Act(Adopt, Some("it is kept and tagged"))),
        ("wanted, unowned, differs in a fixed field", wanted, Some(Live::tagged(None)), ("v1", 2), Refused("exists without pinfra's tags and differs in a field that cannot change in place")),
        ("wanted, foreign, same", wanted, Some(Live::tagged(Some(&theirs()))), ("v1", 1), Refused("belongs to plan `pipeline`, environment `prod`")),
        ("wanted, foreign, differs in a fixed field", wanted, Some(Live::tagged(Some(&theirs()))), ("v1", 2), Refused("belongs to plan `pipeline`, environment `prod`")),
        ("wanted, only the plan tag", wanted, Some(half_tagged.clone()), ("v1", 1), Refused("belongs to plan `pipeline`, environment ``")),
        ("wanted, diff refuses", wanted, Some(Live::tagged(Some(&ours()))), ("refused", 1), Refused("cannot be set")),
        ("unwanted, absent", unwanted, None, ("v1", 1), Act(NoOp, None)),
        ("unwanted, ours", unwanted, Some(Live::tagged(Some(&ours()))), ("v1", 1), Act(Delete, None)),
        ("unwanted, ours, differs", unwanted, Some(Live::tagged(Some(&ours()))), ("v2", 2), Act(Delete, None)),
        ("unwanted, ours, still in use", unwanted, Some(in_use), ("v1", 1), Act(NoOp, Some("still used by a connector outside the plan"))),
        ("unwanted, unowned", unwanted, Some(Live::tagged(None)), ("v1", 1), Act(NoOp, Some("not pinfra's to delete"))),
        ("unwanted, foreign", unwanted, Some(Live::tagged(Some(&theirs()))), ("v1", 1), Act(NoOp, Some("belongs to plan `pipeline`, environment `prod`"))),
        ("unwanted, only the plan tag", unwanted, Some(half_tagged), ("v1", 1), Act(NoOp, Some("environment ``"))),
        ("unmanaged, absent", unmanaged, None, ("v1", 1), Act(NoOp, Some("left to the person who made it"))),
        ("unmanaged, ours, differs", unmanaged, Some(Live::tagged(Some(&ours()))), ("v2", 2), Act(NoOp, Some("left to the person who made it"))),
        ("unmanaged, foreign", unmanaged, Some(Live::tagged(Some(&theirs()))), ("v1", 1), Act(NoOp, Some("left to the person who made it"))),
    ];
    let mut wrong = Vec::new();
    for (row, presence, live, (value, size), expect) in rows {
        let cloud = Cloud::default();
        let node = fake(&cloud, "bucket", "b").presence(presence).value(value).size(size);
        if let Some(live) = live {
            cloud.put(&node.id(), live);
        }
        let engine = engine(&[&node]);
        let planned = engine.plan(&observe(&engine).await);
        let ok = match (&planned, &expect) {
            (Ok(planned), Act(action, note)) => {
                let change = &planned.changes[0];
                change.action == *action
                    && match note {
                        Some(text) => change.note.as_deref().is_some_and(|n| n.contains(text)),
                        None => change.note.is_none(),
                    }
            }
            (Err(failures), Refused(text)) => failures.len() == 1 && failures[0].1.to_string().contains(text),
            _ => false,
        };
        if !ok {
            wrong.push(format!("{row}: expected {expect:?}, got {planned:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A refusal carries a hint, and every refusal of the plan is returned, not only the first.
#[tokio::test]
async fn every_refusal_is_returned_together() {
    let cloud = Cloud::default();
    let (a, b, c) = (fake(&cloud, "role", "a"), fake(&cloud, "bucket", "b").size(2), fake(&cloud, "group", "c"));
    cloud.put(&a.id(), Live::tagged(Some(&theirs())));
    cloud.put(&b.id(), Live::tagged(None));
    let engine = engine(&[&a, &b, &c]);
    let failures = engine.plan(&observe(&engine).await).unwrap_err();
    assert_eq!(failures.iter().map(|(id, _)| id.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert!(failures.iter().all(|(_, e)| e.hint().is_some()), "{failures:?}");
}

/// An untagged resource (a topic) in a plan whose tagged resource is `role`.
async fn plan_with_untagged(role: Option<Live>, role_presence: Presence) -> (Result<Planned, Vec<(ResourceId, ResourceError)>>, Claim) {
    let cloud = Cloud::default();
    let role_node = fake(&cloud, "role", "r").presence(role_presence);
    let pruned = fake(&cloud, "topic", "pruned").untagged().presence(Presence::Unwanted);
    let listed = fake(&cloud, "topic", "listed").untagged().value("v2");
    if let Some(role) = role {
        cloud.put(&role_node.id(), role);
    }
    cloud.put(&pruned.id(), Live::untagged());
    cloud.put(&listed.id(), Live::untagged());
    let engine = engine(&[&role_node, &pruned, &listed]);
    let observed = observe(&engine).await;
    (engine.plan(&observed), engine.claim(&observed).unwrap())
}

/// Topics carry no tags: only a claim the plan's tagged resources prove lets `--prune` delete
/// one. Creating and updating them does not need the proof.
#[tokio::test]
async fn an_untagged_resource_is_deleted_only_on_a_proven_claim() {
    let (planned, claim) = plan_with_untagged(Some(Live::tagged(Some(&ours()))), Presence::Wanted).await;
    assert_eq!(claim, Claim::Proven);
    let planned = planned.unwrap();
    assert_eq!(actions(&planned), [("r".into(), Action::NoOp), ("pruned".into(), Action::Delete), ("listed".into(), Action::Update)]);

    for role in [None, Some(Live::tagged(None))] {
        let (planned, claim) = plan_with_untagged(role.clone(), Presence::Wanted).await;
        assert_eq!(claim, Claim::Unproven, "{role:?}");
        let planned = planned.unwrap();
        let pruned = &planned.changes[1];
        assert_eq!(pruned.action, Action::NoOp, "{role:?}");
        assert!(pruned.note.as_deref().unwrap().contains("no resource of this plan carries its tags"), "{pruned:?}");
        assert_eq!(planned.changes[2].action, Action::Update, "{role:?}");
    }

    // Another plan's role that this plan no longer wants: nothing is refused, but the names
    // collide, so the topic is not deleted either.
    let (planned, claim) = plan_with_untagged(Some(Live::tagged(Some(&theirs()))), Presence::Unwanted).await;
    assert!(matches!(&claim, Claim::Contested(foreign) if foreign.len() == 1 && foreign[0].0.name == "r"), "{claim:?}");
    let pruned = &planned.unwrap().changes[1];
    assert_eq!(pruned.action, Action::NoOp);
    assert!(pruned.note.as_deref().unwrap().contains("this plan's names find another plan's resources"), "{pruned:?}");
}

/// An untagged resource is never adopted: there are no tags to write.
#[tokio::test]
async fn an_existing_untagged_resource_is_updated_or_replaced_not_adopted() {
    let cloud = Cloud::default();
    let same = fake(&cloud, "topic", "same").untagged();
    let grown = fake(&cloud, "topic", "grown").untagged().value("v2");
    let recreated = fake(&cloud, "topic", "recreated").untagged().size(3);
    for node in [&same, &grown, &recreated] {
        cloud.put(&node.id(), Live::untagged());
    }
    let engine = engine(&[&same, &grown, &recreated]);
    let planned = engine.plan(&observe(&engine).await).unwrap();
    assert_eq!(actions(&planned), [("same".into(), Action::NoOp), ("grown".into(), Action::Update), ("recreated".into(), Action::Replace)]);
}

/// A data source is read, never changed: left out of the diff, its outputs given to its
/// dependents, refused when missing, and its tags prove nothing.
#[tokio::test]
async fn a_read_only_resource_is_read_never_changed() {
    let cloud = Cloud::default();
    let cluster = fake(&cloud, "cluster", "c").read_only().value("different");
    let topic = fake(&cloud, "topic", "t").untagged().after(&[&cluster]);
    let engine = engine(&[&cluster, &topic]);

    let failures = engine.plan(&observe(&engine).await).unwrap_err();
    assert_eq!(refusals(&failures), [r#"c: cluster "c" does not exist in this account and region"#]);

    cloud.put(&cluster.id(), Live::tagged(Some(&theirs())));
    let observed = observe(&engine).await;
    assert_eq!(engine.claim(&observed).unwrap(), Claim::Unproven, "a data source's tags do not contest the claim");
    let planned = engine.plan(&observed).unwrap();
    assert_eq!(actions(&planned), [("t".into(), Action::Create)]);
    let upstream = planned.changes[0].fields.iter().find(|f| f.path == "upstream").unwrap();
    assert_eq!(upstream.new, Some(super::Value::of("arn:fake:cluster/c")));

    let planned = engine.plan_destroy(&observed).unwrap();
    assert!(planned.changes.is_empty() && planned.skipped.is_empty(), "{planned:?}");
}

/// A read-only kind's diff may still refuse (a cluster the pipeline cannot use).
#[tokio::test]
async fn a_read_only_resource_can_refuse() {
    let cloud = Cloud::default();
    let cluster = fake(&cloud, "cluster", "c").read_only().value("refused");
    cloud.put(&cluster.id(), Live::tagged(None));
    let engine = engine(&[&cluster]);
    let failures = engine.plan(&observe(&engine).await).unwrap_err();
    assert_eq!(refusals(&failures), ["c: the value `refused` cannot be set"]);
}

#[tokio::test]
async fn the_claim_is_proven_by_this_plans_tags_and_contested_by_anothers() {
    let cloud = Cloud::default();
    let (a, b) = (fake(&cloud, "role", "a"), fake(&cloud, "bucket", "b"));
    let engine = engine(&[&a, &b]);
    assert_eq!(engine.claim(&observe(&engine).await).unwrap(), Claim::Unproven, "nothing exists");
    cloud.put(&a.id(), Live::tagged(None));
    assert_eq!(engine.claim(&observe(&engine).await).unwrap(), Claim::Unproven, "only an unowned resource");
    cloud.put(&b.id(), Live::tagged(Some(&ours())));
    assert_eq!(engine.claim(&observe(&engine).await).unwrap(), Claim::Proven);
    cloud.put(&a.id(), Live::tagged(Some(&theirs())));
    assert_eq!(engine.claim(&observe(&engine).await).unwrap(), Claim::Contested(vec![(a.id(), "pipeline".into(), "prod".into())]));
}

#[test]
fn resources_are_ordered_after_their_dependencies_in_registry_order() {
    let cloud = Cloud::default();
    let a = fake(&cloud, "role", "a");
    let c = fake(&cloud, "profile", "c").after(&[&a]);
    let b = fake(&cloud, "bucket", "b");
    let d = fake(&cloud, "instance", "d").after(&[&c, &b]);
    let engine = engine(&[&d, &c, &b, &a]);
    assert_eq!(format!("{engine:?}"), format!("Engine {{ nodes: {:?} }}", [b.id(), a.id(), c.id(), d.id()]));
}

#[test]
fn a_missing_dependency_or_a_cycle_is_a_graph_error() {
    let cloud = Cloud::default();
    let a = fake(&cloud, "role", "a");
    let b = fake(&cloud, "bucket", "b").after(&[&a]);
    let missing = Engine::new(vec![b.node()], ours(), 8).unwrap_err();
    assert!(matches!(&missing, GraphError::MissingDependency { from, to } if *from == b.id() && *to == a.id()), "{missing}");

    let a = a.after(&[&b]);
    let free = fake(&cloud, "group", "free");
    let cycle = Engine::new(vec![free.node(), a.node(), b.node()], ours(), 8).unwrap_err();
    assert_eq!(cycle.to_string(), r#"resources depend on each other in a cycle: role "a", bucket "b""#);
}

/// Values unknown at diff time (a dependency's ARN) are known when the dependent is applied.
#[tokio::test]
async fn apply_goes_in_dependency_order_with_the_dependencies_real_outputs() {
    let cloud = Cloud::default();
    let bucket = fake(&cloud, "bucket", "b");
    let plugin = fake(&cloud, "plugin", "p").after(&[&bucket]);
    let kept = fake(&cloud, "group", "g");
    cloud.put(&kept.id(), Live::tagged(Some(&ours())));
    let engine = engine(&[&plugin, &bucket, &kept]);
    let observed = observe(&engine).await;
    let planned = engine.plan(&observed).unwrap();
    let upstream = planned.changes.iter().find(|c| c.id == plugin.id()).unwrap().fields.iter().find(|f| f.path == "upstream").unwrap();
    assert_eq!(upstream.new, Some(super::Value::Unknown));

    let outcome = engine.apply(&aws(), &observed, &|_| {}, &AtomicBool::new(false)).await;
    assert!(outcome.is_success(), "{outcome:?}");
    assert_eq!(cloud.calls(), [r#"create bucket "b""#, r#"create plugin "p""#], "a resource already as planned is not called");
    assert_eq!(cloud.world().resources[&plugin.id()].upstream.as_deref(), Some("arn:fake:bucket/b"));
    assert_eq!(outcomes(&outcome)["g"], "done NoOp");
    assert_eq!(outcome.outputs.keys().map(|id| id.name.as_str()).collect::<Vec<_>>(), ["b", "g", "p"]);

    let engine = self::engine(&[&plugin, &bucket, &kept]);
    let again = engine.plan(&observe(&engine).await).unwrap();
    assert!(!super::Summary::of(&again.changes).has_changes(), "{again:?}");
}

/// One attempt: every failure is recorded, whatever depends on a failure is skipped (also
/// further down), and everything else is applied.
#[tokio::test]
async fn apply_skips_the_dependents_of_a_failure_and_does_the_rest() {
    let cloud = Cloud::default();
    let role = fake(&cloud, "role", "role");
    let profile = fake(&cloud, "profile", "profile").after(&[&role]);
    let instance = fake(&cloud, "instance", "instance").after(&[&profile]);
    let bucket = fake(&cloud, "bucket", "bucket");
    let group = fake(&cloud, "group", "group");
    cloud.set(&role.id(), Behaviour::Fail);
    cloud.set(&bucket.id(), Behaviour::Fail);
    let engine = engine(&[&role, &profile, &instance, &bucket, &group]);
    let observed = observe(&engine).await;
    let outcome = engine.apply(&aws(), &observed, &|_| {}, &AtomicBool::new(false)).await;
    assert_eq!(
        outcomes(&outcome),
        BTreeMap::from([
            ("bucket".into(), "failed Create".into()),
            ("group".into(), "done Create".into()),
            ("instance".into(), r#"skipped: not attempted: profile "profile" did not succeed"#.into()),
            ("profile".into(), r#"skipped: not attempted: role "role" did not succeed"#.into()),
            ("role".into(), "failed Create".into()),
        ])
    );
    assert_eq!(outcome.failures().count(), 2);
    assert!(!outcome.is_success());
    assert!(!cloud.calls().iter().any(|c| c.contains("profile") || c.contains("instance")), "{:?}", cloud.calls());
}

/// A refusal found only when re-diffing with the real outputs fails that resource alone.
#[tokio::test]
async fn a_refusal_at_apply_time_fails_that_resource_and_skips_its_dependents() {
    let cloud = Cloud::default();
    let role = fake(&cloud, "role", "role").value("refused");
    let profile = fake(&cloud, "profile", "profile").after(&[&role]);
    let engine = engine(&[&role, &profile]);
    let outcome = engine.apply(&aws(), &observe(&engine).await, &|_| {}, &AtomicBool::new(false)).await;
    assert_eq!(outcomes(&outcome)["role"], "failed NoOp");
    assert!(outcomes(&outcome)["profile"].starts_with("skipped"));
    assert!(cloud.calls().is_empty());
}

/// Ctrl-C: the calls in flight finish, nothing new starts, and what was not done is said.
#[tokio::test]
async fn an_interrupted_apply_finishes_the_calls_in_flight_and_starts_nothing() {
    let cloud = Cloud::default();
    let role = fake(&cloud, "role", "role");
    let bucket = fake(&cloud, "bucket", "bucket");
    let profile = fake(&cloud, "profile", "profile").after(&[&role]);
    let instance = fake(&cloud, "instance", "instance").after(&[&profile]);
    cloud.set(&role.id(), Behaviour::Interrupt);
    cloud.set(&bucket.id(), Behaviour::FinishAfterInterrupt);
    let engine = engine(&[&role, &bucket, &profile, &instance]);
    let observed = observe(&engine).await;
    let outcome = engine.apply(&aws(), &observed, &|_| {}, &cloud.interrupted()).await;
    assert_eq!(
        outcomes(&outcome),
        BTreeMap::from([
            ("bucket".into(), "done Create".into()),
            ("instance".into(), r#"skipped: not attempted: profile "profile" did not succeed"#.into()),
            ("profile".into(), "skipped: not started: interrupted".into()),
            ("role".into(), "done Create".into()),
        ])
    );
    assert_eq!(cloud.calls().len(), 2);
}

/// `destroy` lists what this plan owns, dependents first; the rest is left alone with a reason.
#[tokio::test]
async fn destroy_plans_only_what_the_plan_owns_dependents_first() {
    let cloud = Cloud::default();
    let cluster = fake(&cloud, "cluster", "cluster").read_only();
    let role = fake(&cloud, "role", "role").after(&[&cluster]);
    let profile = fake(&cloud, "profile", "profile").after(&[&role]);
    let bucket = fake(&cloud, "bucket", "handmade");
    let group = fake(&cloud, "group", "absent");
    let plugin = fake(&cloud, "plugin", "in-use");
    let topic = fake(&cloud, "topic", "topic").untagged().after(&[&cluster]);
    cloud.put(&cluster.id(), Live::tagged(None));
    for node in [&role, &profile] {
        cloud.put(&node.id(), Live::tagged(Some(&ours())));
    }
    cloud.put(&bucket.id(), Live::tagged(None));
    cloud.put(&plugin.id(), Live { in_use_by: Some("connector \"other\"".into()), ..Live::tagged(Some(&ours())) });
    cloud.put(&topic.id(), Live::untagged());
    let engine = engine(&[&cluster, &role, &profile, &bucket, &group, &plugin, &topic]);
    let observed = observe(&engine).await;
    let planned = engine.plan_destroy(&observed).unwrap();
    assert_eq!(actions(&planned), [("topic".into(), Action::Delete), ("profile".into(), Action::Delete), ("role".into(), Action::Delete)]);
    assert_eq!(
        planned.skipped,
        [
            (plugin.id(), r#"still used by connector "other""#.into()),
            (bucket.id(), "exists without pinfra's tags; not pinfra's to delete".into()),
        ]
    );

    // Without a resource carrying the plan's tags, the topic is the plan's by name only.
    cloud.world().resources.retain(|id, _| ![role.id(), profile.id(), plugin.id()].contains(id));
    let planned = engine.plan_destroy(&observe(&engine).await).unwrap();
    assert!(planned.changes.is_empty(), "{planned:?}");
    assert_eq!(planned.skipped[0].0, topic.id());
    assert!(planned.skipped[0].1.contains("no resource of this plan carries its tags"), "{planned:?}");
}

/// A colliding plan's destroy deletes nothing: every foreign resource is named.
#[tokio::test]
async fn destroy_is_refused_as_a_whole_when_any_resource_is_foreign() {
    let cloud = Cloud::default();
    let role = fake(&cloud, "role", "role");
    let bucket = fake(&cloud, "bucket", "bucket");
    let group = fake(&cloud, "group", "group");
    let topic = fake(&cloud, "topic", "topic").untagged();
    cloud.put(&role.id(), Live::tagged(Some(&ours())));
    cloud.put(&bucket.id(), Live::tagged(Some(&theirs())));
    cloud.put(&group.id(), Live::tagged(Some(&Ownership { plan: "other".into(), env: "dev".into() })));
    cloud.put(&topic.id(), Live::untagged());
    let engine = engine(&[&role, &bucket, &group, &topic]);
    let failures = engine.plan_destroy(&observe(&engine).await).unwrap_err();
    assert_eq!(
        refusals(&failures),
        [
            r#"bucket: bucket "bucket" belongs to plan `pipeline`, environment `prod`"#,
            r#"group: group "group" belongs to plan `other`, environment `dev`"#,
        ]
    );
    assert!(failures.iter().all(|(_, e)| e.hint().unwrap().contains("destroy deletes nothing")));
}

/// The MSK Connect shape: the connector goes before every plugin (the old one too, which is
/// applied after the connector), and the bucket after every plugin.
#[tokio::test]
async fn destroy_follows_destroy_depends_on() {
    let cloud = Cloud::default();
    let bucket = fake(&cloud, "bucket", "bucket");
    let plugin = fake(&cloud, "plugin", "current").after(&[&bucket]);
    let connector_base = fake(&cloud, "connector", "connector").after(&[&plugin]);
    let old = fake(&cloud, "plugin", "old").after(&[&connector_base]).deleted_before(&[&bucket]);
    let connector = connector_base.deleted_before(&[&plugin, &old]);
    for node in [&bucket, &plugin, &connector, &old] {
        cloud.put(&node.id(), Live::tagged(Some(&ours())));
    }
    let engine = engine(&[&bucket, &plugin, &connector, &old]);
    let observed = observe(&engine).await;
    let planned = engine.plan_destroy(&observed).unwrap();
    let outcome = engine.destroy(&aws(), &observed, &planned, &|_| {}, &AtomicBool::new(false)).await;
    assert!(outcome.is_success(), "{outcome:?}");
    let calls = cloud.calls();
    let at = |name: &str| calls.iter().position(|c| c.contains(&format!("\"{name}\""))).unwrap();
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert!(at("connector") < at("current") && at("connector") < at("old"), "{calls:?}");
    assert!(at("current") < at("bucket") && at("old") < at("bucket"), "{calls:?}");
    assert!(cloud.world().resources.is_empty());
}

/// Untagged resources go before every tagged one: a failed topic deletion leaves the tags that
/// prove the claim, so the next destroy can finish.
#[tokio::test]
async fn a_failed_untagged_deletion_keeps_every_tagged_resource() {
    let cloud = Cloud::default();
    let role = fake(&cloud, "role", "role");
    let bucket = fake(&cloud, "bucket", "bucket");
    let topic = fake(&cloud, "topic", "topic").untagged();
    let other = fake(&cloud, "topic", "other").untagged();
    cloud.put(&role.id(), Live::tagged(Some(&ours())));
    cloud.put(&bucket.id(), Live::tagged(Some(&ours())));
    cloud.put(&topic.id(), Live::untagged());
    cloud.put(&other.id(), Live::untagged());
    cloud.set(&topic.id(), Behaviour::Fail);
    let engine = engine(&[&role, &bucket, &topic, &other]);
    let observed = observe(&engine).await;
    let planned = engine.plan_destroy(&observed).unwrap();
    let outcome = engine.destroy(&aws(), &observed, &planned, &|_| {}, &AtomicBool::new(false)).await;
    let outcomes = outcomes(&outcome);
    assert_eq!(outcomes["topic"], "failed Delete");
    assert_eq!(outcomes["other"], "done Delete");
    for tagged in ["role", "bucket"] {
        assert_eq!(outcomes[tagged], r#"skipped: not attempted: topic "topic" was not deleted, and must be first"#);
    }
    assert!(cloud.world().resources.contains_key(&role.id()) && cloud.world().resources.contains_key(&bucket.id()));
}

#[tokio::test]
async fn an_interrupted_destroy_starts_nothing_new() {
    let cloud = Cloud::default();
    let connector = fake(&cloud, "connector", "connector");
    let bucket = fake(&cloud, "bucket", "bucket");
    let plugin = fake(&cloud, "plugin", "plugin");
    let connector = connector.deleted_before(&[&plugin]);
    for node in [&connector, &bucket, &plugin] {
        cloud.put(&node.id(), Live::tagged(Some(&ours())));
    }
    cloud.set(&connector.id(), Behaviour::Interrupt);
    cloud.set(&bucket.id(), Behaviour::FinishAfterInterrupt);
    let engine = engine(&[&connector, &bucket, &plugin]);
    let observed = observe(&engine).await;
    let planned = engine.plan_destroy(&observed).unwrap();
    let outcome = engine.destroy(&aws(), &observed, &planned, &|_| {}, &cloud.interrupted()).await;
    assert_eq!(
        outcomes(&outcome),
        BTreeMap::from([
            ("bucket".into(), "done Delete".into()),
            ("connector".into(), "done Delete".into()),
            ("plugin".into(), "skipped: not started: interrupted".into()),
        ])
    );
}

/// `Observed` was paired with the engine's resources by position: observations another engine
/// made would have been taken as "absent" wherever a downcast failed, and the resource created.
/// Now they stop the run, and nothing is planned, created or deleted.
#[tokio::test]
async fn observations_of_another_engine_stop_the_run_and_create_nothing() {
    let cloud = Cloud::default();
    let role = fake(&cloud, "role", "role");
    let bucket = fake(&cloud, "bucket", "bucket");
    cloud.put(&role.id(), Live::tagged(Some(&ours())));
    let made_by = engine(&[&role, &bucket]);
    let observed = observe(&made_by).await;
    let other = engine(&[&bucket, &role]);

    let mismatch = |failures: &[(ResourceId, ResourceError)]| {
        failures.len() == 2 && failures.iter().all(|(_, e)| matches!(e, ResourceError::ObservationMismatch { .. }))
    };
    let failures = other.plan(&observed).unwrap_err();
    assert!(mismatch(&failures), "{failures:?}");
    assert!(failures[0].1.to_string().contains("the observations do not match the plan's resources"), "{failures:?}");
    assert!(failures[0].1.hint().unwrap().contains("please report it"));
    assert!(mismatch(&other.plan_destroy(&observed).unwrap_err()));
    assert!(mismatch(&other.claim(&observed).unwrap_err()));

    let outcome = other.apply(&aws(), &observed, &|_| {}, &AtomicBool::new(false)).await;
    assert_eq!(outcome.failures().count(), 2, "{outcome:?}");
    let planned = made_by.plan_destroy(&observed).unwrap();
    let outcome = other.destroy(&aws(), &observed, &planned, &|_| {}, &AtomicBool::new(false)).await;
    assert_eq!(outcome.failures().count(), 2, "{outcome:?}");
    assert!(cloud.calls().is_empty(), "{:?}", cloud.calls());
    assert!(made_by.plan(&observed).is_ok(), "the engine that observed still plans");
}

/// The observation of another resource, or of another kind under the same name, is an error
/// of `Node::plan`, `apply` and `delete`, never an absent resource to create.
#[tokio::test]
async fn an_observation_that_does_not_fit_its_resource_is_a_bug_not_an_absence() {
    use super::{Inputs, Node};
    let cloud = Cloud::default();
    let bucket = fake(&cloud, "bucket", "bucket");
    let role = fake(&cloud, "role", "role");
    let strangers = Engine::new(vec![Box::new(Stranger(bucket.id())), role.node()], ours(), 8).unwrap();
    let observed = observe(&strangers).await;
    let [strangers_bucket, absent_role] = observed.observations() else { panic!("two observations") };

    for (observation, says) in [(strangers_bucket, "holds another kind's state"), (absent_role, "was paired with the observation of role")]
    {
        let error = Node::plan(&bucket, &Inputs::default(), observation, &ours()).unwrap_err();
        assert!(matches!(&error, ResourceError::ObservationMismatch { detail } if detail.contains(says)), "{error}");
        assert!(Node::check(&bucket, observation).is_err());
        let change = super::Change { id: bucket.id(), action: Action::Create, fields: Vec::new(), note: None };
        assert!(Node::apply(&bucket, &aws(), &Inputs::default(), observation, &change).await.is_err());
        assert!(Node::delete(&bucket, &aws(), observation).await.is_err());
    }
    assert!(cloud.calls().is_empty(), "{:?}", cloud.calls());
}

/// Outputs were looked up by string: a typo read as "unknown" forever. A name the dependency's
/// kind does not declare now fails where it is read (debug builds: every test run).
#[test]
#[should_panic(expected = "has no output `amr`")]
fn reading_an_output_the_kind_does_not_declare_is_a_bug_where_it_is_read() {
    use crate::engine::{Inputs, Outputs, Value};
    let id = ResourceId::new("fake", "a");
    let mut inputs = Inputs::default();
    inputs.declare(id.clone(), &["arn"]);
    inputs.insert(id.clone(), Outputs::from([("arn", Value::of("arn:fake"))]));
    assert_eq!(inputs.get(&id, "arn"), Value::of("arn:fake"));
    let _ = inputs.get(&id, "amr");
}
