//! The reconcile engine: observe every resource, diff each one purely, apply in dependency order.
//!
//! Each resource kind implements [`Kind`] with typed desired and live states; the engine sees
//! them through the object-safe [`Node`] so that one ordered list can hold every kind. There is
//! no state file: every resource is found again by the name the plan gives it, and ownership is
//! read from its tags.

mod change;
pub mod markdown;
pub mod render;
mod run;
#[cfg(test)]
mod tests;

use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;

use futures::future::BoxFuture;
use serde_json::Value as Json;

use crate::aws::{Aws, AwsError};
pub use change::{Action, Change, FieldChange, Fields, ResourceId, Summary, Value};
pub use run::{Claim, Engine, Event, GraphError, NodeOutcome, Observed, Outcome, Planned};

/// Tags by key.
pub type Tags = BTreeMap<String, String>;

/// Tag key naming the plan (project) that owns a resource.
pub const TAG_PLAN: &str = "pinfra:plan";
/// Tag key naming the environment that owns a resource.
pub const TAG_ENV: &str = "pinfra:env";

/// The values a resource makes available to the resources that depend on it
/// (`arn`, `name`, ...).
pub type Outputs = BTreeMap<&'static str, Value>;

/// The outputs of a resource's dependencies, as known at this point of the run.
#[derive(Debug, Default, Clone)]
pub struct Inputs {
    outputs: BTreeMap<ResourceId, Outputs>,
    /// The output names each dependency's kind declares ([`Kind::OUTPUTS`]).
    declared: BTreeMap<ResourceId, &'static [&'static str]>,
}

impl Inputs {
    /// Records the output names `id`'s kind declares, known or not yet.
    pub fn declare(&mut self, id: ResourceId, names: &'static [&'static str]) {
        self.declared.insert(id, names);
    }

    /// Records the outputs of `id`.
    pub fn insert(&mut self, id: ResourceId, outputs: Outputs) {
        if let Some(names) = self.declared.get(&id) {
            let undeclared: Vec<&&str> = outputs.keys().filter(|k| !names.contains(k)).collect();
            debug_assert!(undeclared.is_empty(), "{id} gives outputs its kind does not declare: {undeclared:?}");
        }
        self.outputs.insert(id, outputs);
    }

    /// Output `key` of `id`: unknown when the resource is not created yet. A name `id`'s kind
    /// does not declare is a bug in the reading kind: it fails the debug builds (every test),
    /// and is logged in a release.
    pub fn get(&self, id: &ResourceId, key: &str) -> Value {
        if let Some(names) = self.declared.get(id)
            && !names.contains(&key)
        {
            debug_assert!(false, "{id} has no output `{key}`; its kind declares {names:?}");
            tracing::error!("bug: {id} has no output `{key}`; its kind declares {names:?}");
        }
        self.outputs.get(id).and_then(|o| o.get(key)).cloned().unwrap_or(Value::Unknown)
    }

    /// Output `key` of `id` as a string, if known.
    pub fn string(&self, id: &ResourceId, key: &str) -> Option<String> {
        match self.get(id, key) {
            Value::Known(Json::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// Who owns a resource, by its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ownership {
    /// Value of [`TAG_PLAN`].
    pub plan: String,
    /// Value of [`TAG_ENV`].
    pub env: String,
}

impl Ownership {
    /// The ownership tags pinfra puts on every taggable resource.
    pub fn tags(&self) -> Tags {
        Tags::from([(TAG_PLAN.to_owned(), self.plan.clone()), (TAG_ENV.to_owned(), self.env.clone())])
    }

    /// Whether a resource with `live` tags is ours, nobody's, or someone else's.
    pub fn judge(&self, live: &Tags) -> Owner {
        match (live.get(TAG_PLAN), live.get(TAG_ENV)) {
            (None, None) => Owner::Unowned,
            (Some(plan), Some(env)) if *plan == self.plan && *env == self.env => Owner::Ours,
            (plan, env) => Owner::Foreign { plan: plan.cloned().unwrap_or_default(), env: env.cloned().unwrap_or_default() },
        }
    }
}

/// The verdict of [`Ownership::judge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Tagged by this plan and environment.
    Ours,
    /// No pinfra tags: hand-built, or created before pinfra; can be adopted.
    Unowned,
    /// Tagged by another plan or environment: never touched.
    Foreign {
        /// Its `pinfra:plan` tag.
        plan: String,
        /// Its `pinfra:env` tag.
        env: String,
    },
}

/// What the plan says about a resource's existence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// The plan declares it: create it if missing.
    Wanted,
    /// The plan owns it but no longer wants it (a pruned topic): delete it if it exists.
    Unwanted,
    /// The plan owns it but leaves it alone; the note says why (shown in the diff).
    Unmanaged(&'static str),
}

/// Why a resource could not be diffed or applied.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The plan asks for something pinfra will not do (a change AWS does not allow, a resource
    /// that belongs to someone else).
    #[error("{message}")]
    Refused {
        /// What and why.
        message: String,
        /// What to do instead.
        hint: Option<String>,
    },
    /// A bug in pinfra: what was observed was paired with a resource it was not made for. The
    /// run stops: taken as absent, the resource would be created.
    #[error("bug in pinfra: the observations do not match the plan's resources ({detail})")]
    ObservationMismatch {
        /// Which observation, and why it does not fit.
        detail: String,
    },
}

impl ResourceError {
    /// A refusal with a hint.
    pub fn refused(message: impl Into<String>, hint: impl Into<String>) -> Self {
        ResourceError::Refused { message: message.into(), hint: Some(hint.into()) }
    }

    /// The hint to show under the error.
    pub fn hint(&self) -> Option<String> {
        match self {
            ResourceError::Aws(e) => e.hint(),
            ResourceError::Refused { hint, .. } => hint.clone(),
            ResourceError::ObservationMismatch { .. } => {
                Some("this is not a problem of the plan; nothing was changed because of it; please report it".to_owned())
            }
        }
    }
}

/// One kind of AWS resource, with typed desired and live states.
///
/// `observe` and `apply` talk to AWS; `desired` and `diff` are pure and unit-tested without it.
pub trait Kind: Send + Sync + 'static {
    /// What the plan wants, given the dependencies' outputs.
    type Desired: Send + Sync;
    /// What AWS has.
    type Live: Send + Sync + 'static;

    /// This resource's identity.
    fn id(&self) -> ResourceId;

    /// The resources whose outputs this one needs.
    fn depends_on(&self) -> Vec<ResourceId> {
        Vec::new()
    }

    /// What must be deleted before this resource when the plan is destroyed; by default what it
    /// depends on is deleted after it. A resource whose apply must wait for another but whose
    /// deletion must not (an old plugin, deleted after the connector moved off it, and after the
    /// connector when everything goes) says so here.
    fn destroy_depends_on(&self) -> Vec<ResourceId> {
        self.depends_on()
    }

    /// For a resource the plan no longer wants ([`Presence::Unwanted`]): why it must be kept
    /// for now (something still uses it); `None` to delete it.
    fn keep_unwanted(_live: &Self::Live) -> Option<String> {
        None
    }

    /// A data source is only read: never created, changed or deleted. Its `diff` may still
    /// refuse (a cluster the pipeline cannot use).
    fn read_only(&self) -> bool {
        false
    }

    /// Whether the plan wants the resource to exist.
    fn presence(&self) -> Presence {
        Presence::Wanted
    }

    /// For kinds without tags: whether the plan's naming alone makes the resource the plan's,
    /// so that `destroy` deletes it.
    fn owned_without_tags(&self) -> bool {
        false
    }

    /// Finds the resource by its name; `None` if it does not exist.
    fn observe(&self, aws: &Aws) -> impl Future<Output = Result<Option<Self::Live>, AwsError>> + Send;

    /// The desired state. Pure.
    fn desired(&self, inputs: &Inputs) -> Self::Desired;

    /// The fields that differ. Pure. `Err` refuses a change AWS cannot make.
    fn diff(desired: &Self::Desired, live: Option<&Self::Live>) -> Result<Vec<FieldChange>, ResourceError>;

    /// A sentence for the diff about how these field changes will be made, where the action
    /// alone does not say (a resize that stops the instance). Pure.
    fn explain(_fields: &[FieldChange]) -> Option<String> {
        None
    }

    /// The names of the outputs this kind gives its dependents (`outputs`, `outputs_on_create`,
    /// `outputs_during_update`, `apply`'s): reading any other name from [`Inputs`] is a bug,
    /// caught where it is read, never a value unknown forever.
    const OUTPUTS: &'static [&'static str];

    /// The tags of the live resource, for ownership; `None` for kinds without tags.
    fn live_tags(live: &Self::Live) -> Option<&Tags>;

    /// What dependents get from an existing resource.
    fn outputs(&self, live: &Self::Live) -> Outputs;

    /// What dependents can count on at diff time while this resource is changed in place by
    /// `fields`: by default its current outputs. A kind whose update changes an output (a
    /// restarted instance gets a new public DNS name) marks that one unknown here.
    fn outputs_during_update(&self, live: &Self::Live, _fields: &[FieldChange]) -> Outputs {
        self.outputs(live)
    }

    /// What dependents can count on at diff time while this resource is to be created: the
    /// outputs its name alone fixes (a role's ARN), so that a dependent that uses them is not
    /// shown as changing when the resource is only re-created under the same name. Pure. By
    /// default nothing: every output is unknown until the create.
    fn outputs_on_create(&self, _inputs: &Inputs) -> Outputs {
        Outputs::new()
    }

    /// Makes AWS match `desired`; `live` is what was observed, `change` what the diff found.
    /// For [`Action::Replace`](crate::engine::Action::Replace) the kind deletes and creates
    /// again itself (the name is fixed, so always delete first). Must be safe to run again after
    /// an interruption.
    fn apply(
        &self,
        aws: &Aws,
        desired: &Self::Desired,
        live: Option<&Self::Live>,
        change: &Change,
    ) -> impl Future<Output = Result<Outputs, ResourceError>> + Send;

    /// Deletes the resource.
    fn delete(&self, aws: &Aws, live: &Self::Live) -> impl Future<Output = Result<(), ResourceError>> + Send;
}

/// What was observed of one resource, type-erased, with the resource it was made for.
pub struct Observation {
    id: ResourceId,
    live: Option<Box<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Observation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Observation({}, {})", self.id, if self.live.is_some() { "exists" } else { "absent" })
    }
}

impl Observation {
    /// The live state of `id`, of type `L`. An observation made for another resource, or of
    /// another type, is a bug: an error, never "absent" (which would create the resource).
    fn live<L: 'static>(&self, id: &ResourceId) -> Result<Option<&L>, ResourceError> {
        if self.id != *id {
            return Err(ResourceError::ObservationMismatch { detail: format!("{id} was paired with the observation of {}", self.id) });
        }
        match &self.live {
            None => Ok(None),
            Some(live) => live.downcast_ref::<L>().map(Some).ok_or_else(|| ResourceError::ObservationMismatch {
                detail: format!("the observation of {id} holds another kind's state"),
            }),
        }
    }

    /// Whether the resource exists.
    pub fn exists(&self) -> bool {
        self.live.is_some()
    }
}

/// The engine's object-safe view of a [`Kind`].
pub trait Node: Send + Sync {
    /// See [`Kind::id`].
    fn id(&self) -> ResourceId;
    /// See [`Kind::depends_on`].
    fn depends_on(&self) -> Vec<ResourceId>;
    /// See [`Kind::destroy_depends_on`].
    fn destroy_depends_on(&self) -> Vec<ResourceId>;
    /// See [`Kind::read_only`].
    fn read_only(&self) -> bool;
    /// See [`Kind::owned_without_tags`].
    fn owned_without_tags(&self) -> bool;
    /// Whether `observation` was made for this resource, by this kind; an error (a bug) if not.
    fn check(&self, observation: &Observation) -> Result<(), ResourceError>;
    /// Observes the resource.
    fn observe<'a>(&'a self, aws: &'a Aws) -> BoxFuture<'a, Result<Observation, AwsError>>;
    /// Diffs it and decides the action.
    fn plan(&self, inputs: &Inputs, observation: &Observation, ownership: &Ownership) -> Result<Change, ResourceError>;
    /// The ownership of the observed resource.
    fn owner(&self, observation: &Observation, ownership: &Ownership) -> Option<Owner>;
    /// Why an observed resource this plan owns is kept by `destroy` ([`Kind::keep_unwanted`]:
    /// something outside the plan still uses it), if it is.
    fn kept(&self, observation: &Observation) -> Option<String>;
    /// Outputs of the observed resource.
    fn live_outputs(&self, observation: &Observation) -> Option<Outputs>;
    /// See [`Kind::OUTPUTS`].
    fn declared_outputs(&self) -> &'static [&'static str];
    /// The outputs dependents can count on at diff time, given the resource's change.
    fn planned_outputs(&self, inputs: &Inputs, observation: &Observation, change: &Change) -> Option<Outputs>;
    /// Applies `change`.
    fn apply<'a>(
        &'a self,
        aws: &'a Aws,
        inputs: &'a Inputs,
        observation: &'a Observation,
        change: &'a Change,
    ) -> BoxFuture<'a, Result<Outputs, ResourceError>>;
    /// Deletes the observed resource.
    fn delete<'a>(&'a self, aws: &'a Aws, observation: &'a Observation) -> BoxFuture<'a, Result<(), ResourceError>>;
}

/// The live state in an observation the engine has already paired with `node` and checked
/// ([`Node::check`]; a mismatch stops the run before anything is planned). The accessors that
/// answer with an `Option` read through it.
fn checked_live<'o, K: Kind>(node: &K, observation: &'o Observation) -> Option<&'o K::Live> {
    observation.live::<K::Live>(&Kind::id(node)).ok().flatten()
}

impl<K: Kind> Node for K {
    fn id(&self) -> ResourceId {
        Kind::id(self)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        Kind::depends_on(self)
    }

    fn destroy_depends_on(&self) -> Vec<ResourceId> {
        Kind::destroy_depends_on(self)
    }

    fn read_only(&self) -> bool {
        Kind::read_only(self)
    }

    fn owned_without_tags(&self) -> bool {
        Kind::owned_without_tags(self)
    }

    fn check(&self, observation: &Observation) -> Result<(), ResourceError> {
        observation.live::<K::Live>(&Kind::id(self)).map(|_| ())
    }

    fn observe<'a>(&'a self, aws: &'a Aws) -> BoxFuture<'a, Result<Observation, AwsError>> {
        Box::pin(async move {
            let live = Kind::observe(self, aws).await?;
            Ok(Observation { id: Kind::id(self), live: live.map(|l| Box::new(l) as Box<dyn Any + Send + Sync>) })
        })
    }

    fn plan(&self, inputs: &Inputs, observation: &Observation, ownership: &Ownership) -> Result<Change, ResourceError> {
        let id = Kind::id(self);
        let live = observation.live::<K::Live>(&id)?;
        if Kind::read_only(self) {
            return match live {
                Some(_) => {
                    K::diff(&self.desired(inputs), live)?;
                    Ok(Change { id, action: Action::NoOp, fields: Vec::new(), note: None })
                }
                None => Err(ResourceError::refused(
                    format!("{id} does not exist in {}", "this account and region"),
                    "pinfra uses it but does not create it; check the name in the plan, the region and the account",
                )),
            };
        }
        match (Kind::presence(self), live) {
            (Presence::Wanted, _) => {}
            (Presence::Unwanted, Some(live)) => {
                // Only what this plan owns is deleted: a kind with tags must carry ours.
                let owner = K::live_tags(live).map(|tags| ownership.judge(tags));
                let note = match owner {
                    Some(Owner::Unowned) => Some("exists without pinfra's tags; not pinfra's to delete".to_owned()),
                    Some(Owner::Foreign { plan, env }) => Some(format!("belongs to plan `{plan}`, environment `{env}`")),
                    _ => K::keep_unwanted(live),
                };
                return Ok(match note {
                    Some(note) => Change { id, action: Action::NoOp, fields: Vec::new(), note: Some(note) },
                    None => Change { id, action: Action::Delete, fields: Vec::new(), note: None },
                });
            }
            (Presence::Unwanted, None) => return Ok(Change { id, action: Action::NoOp, fields: Vec::new(), note: None }),
            (Presence::Unmanaged(note), _) => {
                return Ok(Change { id, action: Action::NoOp, fields: Vec::new(), note: Some(note.to_owned()) });
            }
        }
        let desired = self.desired(inputs);
        let fields = K::diff(&desired, live)?;
        let mut note = None;
        let action = match live {
            None => Action::Create,
            Some(live) => {
                let owner = K::live_tags(live).map(|tags| ownership.judge(tags));
                if let Some(Owner::Foreign { plan, env }) = owner {
                    return Err(ResourceError::refused(
                        format!("{id} belongs to plan `{plan}`, environment `{env}`"),
                        "names collide with another environment; change `user_id`, the environment name, or this resource's name",
                    ));
                }
                let forces_replace = fields.iter().any(|f| f.forces_replace);
                if forces_replace && owner == Some(Owner::Unowned) {
                    // Replacing means deleting, and pinfra deletes only what it owns.
                    return Err(ResourceError::refused(
                        format!("{id} exists without pinfra's tags and differs in a field that cannot change in place"),
                        "change the plan to match it, or delete it by hand and apply again",
                    ));
                }
                if forces_replace {
                    Action::Replace
                } else if owner == Some(Owner::Unowned) {
                    note = Some("exists without pinfra's tags; it is kept and tagged, not re-created".to_owned());
                    Action::Adopt
                } else if fields.is_empty() {
                    Action::NoOp
                } else {
                    Action::Update
                }
            }
        };
        let note = note.or_else(|| K::explain(&fields));
        Ok(Change { id, action, fields, note })
    }

    fn owner(&self, observation: &Observation, ownership: &Ownership) -> Option<Owner> {
        checked_live(self, observation).and_then(K::live_tags).map(|tags| ownership.judge(tags))
    }

    fn kept(&self, observation: &Observation) -> Option<String> {
        checked_live(self, observation).and_then(K::keep_unwanted)
    }

    fn declared_outputs(&self) -> &'static [&'static str] {
        K::OUTPUTS
    }

    fn live_outputs(&self, observation: &Observation) -> Option<Outputs> {
        checked_live(self, observation).map(|live| self.outputs(live))
    }

    fn planned_outputs(&self, inputs: &Inputs, observation: &Observation, change: &Change) -> Option<Outputs> {
        if change.action == Action::Create {
            // Only what the name fixes (`Kind::outputs_on_create`).
            return Some(self.outputs_on_create(inputs)).filter(|outputs| !outputs.is_empty());
        }
        let live = checked_live(self, observation)?;
        match change.action {
            Action::Update | Action::Adopt => Some(self.outputs_during_update(live, &change.fields)),
            Action::NoOp => Some(self.outputs(live)),
            // To be replaced or deleted: nothing to count on yet.
            Action::Create | Action::Replace | Action::Delete => None,
        }
    }

    fn apply<'a>(
        &'a self,
        aws: &'a Aws,
        inputs: &'a Inputs,
        observation: &'a Observation,
        change: &'a Change,
    ) -> BoxFuture<'a, Result<Outputs, ResourceError>> {
        Box::pin(async move {
            let live = observation.live::<K::Live>(&Kind::id(self))?;
            if change.action == Action::Delete {
                if let Some(live) = live {
                    Kind::delete(self, aws, live).await?;
                }
                return Ok(Outputs::new());
            }
            let desired = self.desired(inputs);
            Kind::apply(self, aws, &desired, live, change).await
        })
    }

    fn delete<'a>(&'a self, aws: &'a Aws, observation: &'a Observation) -> BoxFuture<'a, Result<(), ResourceError>> {
        Box::pin(async move {
            match observation.live::<K::Live>(&Kind::id(self))? {
                Some(live) => Kind::delete(self, aws, live).await,
                None => Ok(()),
            }
        })
    }
}
