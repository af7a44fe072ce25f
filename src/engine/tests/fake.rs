//! A [`Kind`] whose cloud is a map in memory, so that the engine's ordering, ownership and
//! failure handling are tested without AWS (as kube-rs tests its controller against an
//! in-memory store). `observe`, `apply` and `delete` read and write the [`Cloud`] and never use
//! the [`Aws`] clients they are handed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value as Json;

use crate::aws::{Aws, AwsError};
use crate::engine::{Change, FieldChange, Fields, Inputs, Kind, Outputs, Ownership, Presence, ResourceError, ResourceId, Tags, Value};

/// The ownership of the plan under test.
pub fn ours() -> Ownership {
    Ownership { plan: "pipeline".into(), env: "dev".into() }
}

/// Another plan's ownership, whose names collide with ours.
pub fn theirs() -> Ownership {
    Ownership { plan: "pipeline".into(), env: "prod".into() }
}

/// Clients that are never called: the fake ignores them.
pub fn aws() -> Aws {
    let config = aws_sdk_iam::Config::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new("us-east-1"))
        .build();
    Aws::with_iam(aws_sdk_iam::Client::from_conf(config))
}

/// What the fake cloud holds of one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    /// Changes in place.
    pub value: String,
    /// Cannot change in place.
    pub size: u32,
    /// The `arn` of the first dependency, as last applied.
    pub upstream: Option<String>,
    /// `None` for a kind without tags (a topic).
    pub tags: Option<Tags>,
    /// [`Kind::keep_unwanted`]'s reason, if something outside the plan uses it.
    pub in_use_by: Option<String>,
}

impl Live {
    /// A resource as the plan wants it, tagged as `owner`'s (`None`: without pinfra's tags).
    pub fn tagged(owner: Option<&Ownership>) -> Self {
        Live { value: "v1".into(), size: 1, upstream: None, tags: Some(owner.map(Ownership::tags).unwrap_or_default()), in_use_by: None }
    }

    /// A resource of a kind without tags, as the plan wants it.
    pub fn untagged() -> Self {
        Live { tags: None, ..Live::tagged(None) }
    }
}

/// How the fake answers an apply or delete of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// The call fails.
    Fail,
    /// Ctrl-C while the call is in flight: once every [`Behaviour::FinishAfterInterrupt`] call
    /// has started, the call sets the run's `interrupted` flag, then succeeds.
    Interrupt,
    /// The call starts, waits until the run is interrupted, then succeeds.
    FinishAfterInterrupt,
}

/// The fake cloud, shared by every fake node of a test.
#[derive(Debug, Default, Clone)]
pub struct Cloud(Arc<Mutex<World>>);

/// What the fake cloud holds and what was asked of it.
#[derive(Debug, Default)]
pub struct World {
    /// The existing resources.
    pub resources: BTreeMap<ResourceId, Live>,
    /// Every mutating call, in order: `create bucket "b"`, `delete topic "t"`, ...
    pub calls: Vec<String>,
    /// How a call on a resource behaves, where not simply succeeding.
    pub behaviour: BTreeMap<ResourceId, Behaviour>,
    /// The run's Ctrl-C flag, as [`Behaviour::Interrupt`] sets it.
    pub interrupted: Arc<AtomicBool>,
}

impl Cloud {
    /// The world, locked.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.0.lock().unwrap()
    }

    /// Puts `live` in the cloud under `id`.
    pub fn put(&self, id: &ResourceId, live: Live) {
        self.world().resources.insert(id.clone(), live);
    }

    /// The mutating calls so far.
    pub fn calls(&self) -> Vec<String> {
        self.world().calls.clone()
    }

    /// The flag to hand to `Engine::apply` and `Engine::destroy`.
    pub fn interrupted(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.world().interrupted)
    }

    /// Makes calls on `id` behave so.
    pub fn set(&self, id: &ResourceId, behaviour: Behaviour) {
        self.world().behaviour.insert(id.clone(), behaviour);
    }

    /// Records a mutating call and plays its behaviour.
    async fn call(&self, verb: &str, id: &ResourceId) -> Result<(), ResourceError> {
        let (behaviour, interrupted) = {
            let mut world = self.world();
            world.calls.push(format!("{verb} {id}"));
            (world.behaviour.get(id).copied(), Arc::clone(&world.interrupted))
        };
        match behaviour {
            Some(Behaviour::Fail) => Err(ResourceError::refused(format!("{verb} {id} failed"), "injected by the test")),
            Some(Behaviour::Interrupt) => {
                while !self.in_flight_started() {
                    tokio::task::yield_now().await;
                }
                interrupted.store(true, Ordering::SeqCst);
                Ok(())
            }
            Some(Behaviour::FinishAfterInterrupt) => {
                while !interrupted.load(Ordering::SeqCst) {
                    tokio::task::yield_now().await;
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Whether every call that waits for the interruption has started.
    fn in_flight_started(&self) -> bool {
        let world = self.world();
        let called = |id: &ResourceId| world.calls.iter().any(|c| c.ends_with(&id.to_string()));
        world.behaviour.iter().filter(|(_, b)| **b == Behaviour::FinishAfterInterrupt).all(|(id, _)| called(id))
    }
}

/// One resource of the fake kind. The kind name in its id is free (`role`, `topic`), so that a
/// test reads like the pipeline it stands for.
#[derive(Debug, Clone)]
pub struct Fake {
    id: ResourceId,
    depends_on: Vec<ResourceId>,
    destroy_depends_on: Option<Vec<ResourceId>>,
    read_only: bool,
    presence: Presence,
    untagged: bool,
    value: String,
    size: u32,
    cloud: Cloud,
}

/// A resource `kind` named `name`, wanted with `value = "v1"`, `size = 1` and this plan's tags.
pub fn fake(cloud: &Cloud, kind: &'static str, name: &str) -> Fake {
    Fake {
        id: ResourceId::new(kind, name),
        depends_on: Vec::new(),
        destroy_depends_on: None,
        read_only: false,
        presence: Presence::Wanted,
        untagged: false,
        value: "v1".into(),
        size: 1,
        cloud: cloud.clone(),
    }
}

impl Fake {
    /// Needs the outputs of `deps`; the first one's `arn` becomes the `upstream` field.
    pub fn after(mut self, deps: &[&Fake]) -> Self {
        self.depends_on = deps.iter().map(|d| d.id.clone()).collect();
        self
    }

    /// Deleted before `others` ([`Kind::destroy_depends_on`]), whatever it depends on.
    pub fn deleted_before(mut self, others: &[&Fake]) -> Self {
        self.destroy_depends_on = Some(others.iter().map(|d| d.id.clone()).collect());
        self
    }

    /// A data source.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// What the plan says about its existence.
    pub fn presence(mut self, presence: Presence) -> Self {
        self.presence = presence;
        self
    }

    /// A kind without tags that the plan's names alone make its own (a topic).
    pub fn untagged(mut self) -> Self {
        self.untagged = true;
        self
    }

    /// The planned in-place value.
    pub fn value(mut self, value: &str) -> Self {
        self.value = value.into();
        self
    }

    /// The planned size, which cannot change in place.
    pub fn size(mut self, size: u32) -> Self {
        self.size = size;
        self
    }

    /// This resource's id.
    pub fn id(&self) -> ResourceId {
        self.id.clone()
    }

    /// Boxed for `Engine::new`.
    pub fn node(&self) -> Box<dyn crate::engine::Node> {
        Box::new(self.clone())
    }
}

/// What a fake resource should be.
#[derive(Debug)]
pub struct Desired {
    value: String,
    size: u32,
    upstream: Option<Value>,
    tags: Option<Tags>,
}

impl Kind for Fake {
    type Desired = Desired;
    type Live = Live;

    fn id(&self) -> ResourceId {
        self.id.clone()
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        self.depends_on.clone()
    }

    fn destroy_depends_on(&self) -> Vec<ResourceId> {
        self.destroy_depends_on.clone().unwrap_or_else(|| self.depends_on.clone())
    }

    fn keep_unwanted(live: &Live) -> Option<String> {
        live.in_use_by.as_ref().map(|user| format!("still used by {user}"))
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn presence(&self) -> Presence {
        self.presence
    }

    fn owned_without_tags(&self) -> bool {
        self.untagged
    }

    async fn observe(&self, _aws: &Aws) -> Result<Option<Live>, AwsError> {
        Ok(self.cloud.world().resources.get(&self.id).cloned())
    }

    fn desired(&self, inputs: &Inputs) -> Desired {
        Desired {
            value: self.value.clone(),
            size: self.size,
            upstream: self.depends_on.first().map(|dep| inputs.get(dep, "arn")),
            tags: (!self.untagged).then(|| ours().tags()),
        }
    }

    fn diff(desired: &Desired, live: Option<&Live>) -> Result<Vec<FieldChange>, ResourceError> {
        if desired.value == "refused" {
            return Err(ResourceError::refused("the value `refused` cannot be set", "the test asked for it"));
        }
        let mut fields = Fields::new(live.is_none());
        fields.known("value", desired.value.clone(), live.map(|l| Json::String(l.value.clone())), false);
        fields.known("size", desired.size, live.map(|l| Json::from(l.size)), true);
        if let Some(upstream) = &desired.upstream {
            fields.field("upstream", upstream.clone(), live.and_then(|l| l.upstream.clone()).map(Json::String), false);
        }
        if let Some(tags) = &desired.tags {
            fields.tags("tags", tags, live.and_then(|l| l.tags.as_ref()));
        }
        Ok(fields.finish())
    }

    const OUTPUTS: &'static [&'static str] = &["arn"];

    fn live_tags(live: &Live) -> Option<&Tags> {
        live.tags.as_ref()
    }

    fn outputs(&self, _live: &Live) -> Outputs {
        Outputs::from([("arn", Value::of(format!("arn:fake:{}/{}", self.id.kind, self.id.name)))])
    }

    async fn apply(&self, _aws: &Aws, desired: &Desired, live: Option<&Live>, change: &Change) -> Result<Outputs, ResourceError> {
        let verb = format!("{:?}", change.action).to_lowercase();
        self.cloud.call(&verb, &self.id).await?;
        let upstream = match &desired.upstream {
            Some(Value::Known(Json::String(arn))) => Some(arn.clone()),
            _ => None,
        };
        let mut tags = live.and_then(|l| l.tags.clone());
        if let Some(want) = &desired.tags {
            tags.get_or_insert_with(Tags::new).extend(want.clone());
        }
        let live =
            Live { value: desired.value.clone(), size: desired.size, upstream, tags, in_use_by: live.and_then(|l| l.in_use_by.clone()) };
        let outputs = self.outputs(&live);
        self.cloud.put(&self.id, live);
        Ok(outputs)
    }

    async fn delete(&self, _aws: &Aws, _live: &Live) -> Result<(), ResourceError> {
        self.cloud.call("delete", &self.id).await?;
        self.cloud.world().resources.remove(&self.id);
        Ok(())
    }
}

/// A kind whose live state is of another type than [`Fake`]'s, under any name: its
/// observations fit no fake.
#[derive(Debug)]
pub struct Stranger(pub ResourceId);

impl Kind for Stranger {
    type Desired = ();
    type Live = String;

    fn id(&self) -> ResourceId {
        self.0.clone()
    }

    async fn observe(&self, _aws: &Aws) -> Result<Option<String>, AwsError> {
        Ok(Some("a stranger's state".into()))
    }

    fn desired(&self, _inputs: &Inputs) {}

    fn diff(_desired: &(), _live: Option<&String>) -> Result<Vec<FieldChange>, ResourceError> {
        Ok(Vec::new())
    }

    const OUTPUTS: &'static [&'static str] = &[];

    fn live_tags(_live: &String) -> Option<&Tags> {
        None
    }

    fn outputs(&self, _live: &String) -> Outputs {
        Outputs::new()
    }

    async fn apply(&self, _aws: &Aws, _desired: &(), _live: Option<&String>, _change: &Change) -> Result<Outputs, ResourceError> {
        Ok(Outputs::new())
    }

    async fn delete(&self, _aws: &Aws, _live: &String) -> Result<(), ResourceError> {
        Ok(())
    }
}
