//! Running the engine: the dependency graph, parallel observation, planning, and applying or
//! destroying in dependency order with independent branches in parallel.
//!
//! Applying is one attempt: every resource that can be applied is, every failure is recorded
//! (not just the first), and resources downstream of a failure are skipped. Because each
//! resource's apply is idempotent and the next run observes again, a rerun converges from
//! wherever this one stopped.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared, join_all};
use futures::stream::{self, StreamExt};
use tokio::sync::Semaphore;

use super::{Action, Change, Inputs, Node, Observation, Outputs, Owner, Ownership, ResourceError, ResourceId};
use crate::aws::{Aws, AwsError};

/// How many resources are read at once for each one changed at once. A pipeline's reads (a
/// dozen resources, one to three round trips each) all start together, so that a converged diff
/// costs its longest chain of round trips, not a second wave; the pacer keeps them within AWS's
/// quotas.
const READS_PER_CHANGE: usize = 4;

/// Why the resource graph is unusable; a bug in a kind's `depends_on`, not a user error.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// A dependency names a resource that is not in the plan.
    #[error("{from} depends on {to}, which is not part of the plan")]
    MissingDependency {
        /// The dependent.
        from: ResourceId,
        /// The missing resource.
        to: ResourceId,
    },
    /// The dependencies form a cycle.
    #[error("resources depend on each other in a cycle: {0}")]
    Cycle(String),
}

/// What observation found, one entry per resource in the engine's order, tied to the engine
/// that made it: the engine pairs its resources with these observations by position, and
/// refuses, as a bug, observations another engine made (see [`Engine::plan`]).
#[derive(Debug)]
pub struct Observed {
    /// The [`Engine`] that observed.
    engine: u64,
    observations: Vec<Observation>,
    outputs: BTreeMap<ResourceId, Outputs>,
}

impl Observed {
    /// The outputs of every existing resource.
    pub fn outputs(&self) -> BTreeMap<ResourceId, Outputs> {
        self.outputs.clone()
    }

    /// The observations, in the engine's order.
    #[cfg(test)]
    pub(super) fn observations(&self) -> &[Observation] {
        &self.observations
    }
}

/// The diff of the whole plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// One change per resource, in dependency order (read-only resources left out).
    pub changes: Vec<Change>,
    /// Resources left alone on purpose, with the reason (for `destroy`).
    pub skipped: Vec<(ResourceId, String)>,
}

/// What the plan's tagged resources say about its untagged ones (topics), which only their
/// names tie to the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// At least one tagged resource carries this plan's tags, and none another's.
    Proven,
    /// No tagged resource of the plan exists, or none carries pinfra's tags: nothing proves the
    /// names are this plan's (a hand-built pipeline, or one this plan never applied).
    Unproven,
    /// Some carry another plan's or environment's tags: the names collide.
    Contested(Vec<(ResourceId, String, String)>),
}

impl Claim {
    /// Why an untagged resource is not deleted under this claim.
    fn why_untagged_kept(&self) -> &'static str {
        match self {
            Claim::Contested(_) => "not deleted: this plan's names find another plan's resources, so nothing proves it is this plan's",
            Claim::Proven | Claim::Unproven => {
                "not deleted: no resource of this plan carries its tags, so nothing proves it is this plan's (delete it by hand if it is)"
            }
        }
    }
}

/// What became of one resource in an apply or destroy.
#[derive(Debug)]
pub enum NodeOutcome {
    /// Applied (or already as planned).
    Done {
        /// The action taken.
        action: Action,
        /// How long it took.
        elapsed: Duration,
    },
    /// The resource's own calls failed.
    Failed {
        /// The action attempted.
        action: Action,
        /// Why.
        error: ResourceError,
    },
    /// Not attempted, because of `reason` (a dependency failed).
    Skipped {
        /// Why.
        reason: String,
    },
}

/// The result of an apply or destroy: every resource's outcome, in the order they ended.
#[derive(Debug, Default)]
pub struct Outcome {
    /// `(resource, outcome)` pairs.
    pub results: Vec<(ResourceId, NodeOutcome)>,
    /// The outputs of every resource that exists after an apply (empty after a destroy).
    pub outputs: BTreeMap<ResourceId, Outputs>,
}

impl Outcome {
    /// The failures.
    pub fn failures(&self) -> impl Iterator<Item = (&ResourceId, &ResourceError)> {
        self.results.iter().filter_map(|(id, o)| match o {
            NodeOutcome::Failed { error, .. } => Some((id, error)),
            _ => None,
        })
    }

    /// Whether everything that was attempted succeeded and nothing was skipped.
    pub fn is_success(&self) -> bool {
        self.results.iter().all(|(_, o)| matches!(o, NodeOutcome::Done { .. }))
    }
}

/// What the engine reports while it works, for progress output.
#[derive(Debug)]
pub enum Event<'a> {
    /// A resource's apply or delete started.
    Started(&'a ResourceId, Action),
    /// It finished.
    Finished(&'a ResourceId, Action, Duration),
    /// It failed.
    Failed(&'a ResourceId, Action, &'a ResourceError),
    /// It was not attempted.
    Skipped(&'a ResourceId, &'a str),
}

/// The resources of one plan, in dependency order, and how to reconcile them.
pub struct Engine {
    /// Tells this engine's [`Observed`] from another's.
    identity: u64,
    nodes: Vec<Box<dyn Node>>,
    ownership: Ownership,
    concurrency: usize,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("nodes", &self.nodes.iter().map(|n| n.id()).collect::<Vec<_>>()).finish()
    }
}

type NodeFuture<'a> = Shared<BoxFuture<'a, Option<Arc<Outputs>>>>;

/// Each resource with its observation.
type Pairs<'s> = Vec<(&'s dyn Node, &'s Observation)>;

/// Every resource that cannot be planned, and why.
type Failures = Vec<(ResourceId, ResourceError)>;

/// The identity of the next [`Engine`].
static NEXT_ENGINE: AtomicU64 = AtomicU64::new(0);

impl Engine {
    /// Orders `nodes` so that every resource comes after what it depends on.
    pub fn new(nodes: Vec<Box<dyn Node>>, ownership: Ownership, concurrency: usize) -> Result<Self, GraphError> {
        let ids: Vec<ResourceId> = nodes.iter().map(|n| n.id()).collect();
        for node in &nodes {
            for dep in node.depends_on() {
                if !ids.contains(&dep) {
                    return Err(GraphError::MissingDependency { from: node.id(), to: dep });
                }
            }
        }
        // Kahn's algorithm, stable: among ready nodes, the registry's order wins.
        let mut remaining: Vec<Option<Box<dyn Node>>> = nodes.into_iter().map(Some).collect();
        let mut ordered: Vec<Box<dyn Node>> = Vec::with_capacity(remaining.len());
        let mut placed: Vec<ResourceId> = Vec::new();
        while ordered.len() < ids.len() {
            let ready = remaining.iter().position(|slot| slot.as_ref().is_some_and(|n| n.depends_on().iter().all(|d| placed.contains(d))));
            let Some(index) = ready else {
                let stuck: Vec<String> = remaining.iter().flatten().map(|n| n.id().to_string()).collect();
                return Err(GraphError::Cycle(stuck.join(", ")));
            };
            if let Some(node) = remaining[index].take() {
                placed.push(node.id());
                ordered.push(node);
            }
        }
        let identity = NEXT_ENGINE.fetch_add(1, Ordering::Relaxed);
        Ok(Self { identity, nodes: ordered, ownership, concurrency: concurrency.max(1) })
    }

    /// Reads every resource, in parallel with at most [`READS_PER_CHANGE`] times `concurrency`
    /// at once. All failures are returned, not only the first.
    pub async fn observe(&self, aws: &Aws) -> Result<Observed, Vec<(ResourceId, AwsError)>> {
        let at_once = self.concurrency.saturating_mul(READS_PER_CHANGE);
        // Unordered: a slow read must not hold back the start of the next ones (500 topics that
        // need no call come before the REST API's reads); the results are put back in order.
        let mut indexed: Vec<(usize, Result<Observation, AwsError>)> = stream::iter(self.nodes.iter().enumerate())
            .map(|(index, node)| node.observe(aws).map(move |result| (index, result)))
            .buffer_unordered(at_once)
            .collect()
            .await;
        indexed.sort_by_key(|(index, _)| *index);
        let results: Vec<Result<Observation, AwsError>> = indexed.into_iter().map(|(_, result)| result).collect();
        let mut observations = Vec::with_capacity(results.len());
        let mut outputs = BTreeMap::new();
        let mut failures = Vec::new();
        for (node, result) in self.nodes.iter().zip(results) {
            match result {
                Ok(observation) => {
                    if let Some(live) = node.live_outputs(&observation) {
                        outputs.insert(node.id(), live);
                    }
                    observations.push(observation);
                }
                Err(error) => failures.push((node.id(), error)),
            }
        }
        if failures.is_empty() { Ok(Observed { engine: self.identity, observations, outputs }) } else { Err(failures) }
    }

    /// What observation would find if AWS held `live` (each resource's state, of its kind's
    /// `Live` type; `None`: absent): fixtures for the planner's goldens, without AWS. A fixture
    /// of the wrong type is refused by `plan` like any mismatched observation. What a kind
    /// resolves while observing (an unpinned AMI) stays unresolved.
    #[cfg(test)]
    pub(crate) fn observed_from(&self, mut live: impl FnMut(&ResourceId) -> Option<Box<dyn std::any::Any + Send + Sync>>) -> Observed {
        let observations: Vec<Observation> = self.nodes.iter().map(|node| Observation { id: node.id(), live: live(&node.id()) }).collect();
        let outputs =
            self.nodes.iter().zip(&observations).filter_map(|(node, o)| node.live_outputs(o).map(|outputs| (node.id(), outputs))).collect();
        Observed { engine: self.identity, observations, outputs }
    }

    /// Each resource with its observation. Observations another engine made, or one made for
    /// another resource or kind, are a bug in pinfra, reported for each resource they touch:
    /// taken as absent, a resource would be created.
    fn paired<'s>(&'s self, observed: &'s Observed) -> Result<Pairs<'s>, Failures> {
        if observed.engine != self.identity || observed.observations.len() != self.nodes.len() {
            let detail = "they were made by another engine";
            return Err(self.nodes.iter().map(|n| (n.id(), ResourceError::ObservationMismatch { detail: detail.to_owned() })).collect());
        }
        let pairs: Pairs<'s> = self.nodes.iter().map(AsRef::as_ref).zip(&observed.observations).collect();
        let failures: Failures =
            pairs.iter().filter_map(|(node, observation)| node.check(observation).err().map(|e| (node.id(), e))).collect();
        if failures.is_empty() { Ok(pairs) } else { Err(failures) }
    }

    /// Whether the plan's tagged resources prove that its untagged ones (topics) are its
    /// (`docs/RELIABILITY.md`, "Ownership"). `Err` when `observed` does not match the engine.
    pub fn claim(&self, observed: &Observed) -> Result<Claim, Failures> {
        Ok(self.claim_of(&self.paired(observed)?))
    }

    fn claim_of(&self, pairs: &Pairs<'_>) -> Claim {
        let mut ours = false;
        let mut foreign = Vec::new();
        for (node, observation) in pairs {
            if node.read_only() {
                continue;
            }
            match node.owner(observation, &self.ownership) {
                Some(Owner::Ours) => ours = true,
                Some(Owner::Foreign { plan, env }) => foreign.push((node.id(), plan, env)),
                Some(Owner::Unowned) | None => {}
            }
        }
        match (foreign.is_empty(), ours) {
            (false, _) => Claim::Contested(foreign),
            (true, true) => Claim::Proven,
            (true, false) => Claim::Unproven,
        }
    }

    /// One resource's change, where an untagged resource is deleted only on a proven claim.
    fn plan_node(&self, node: &dyn Node, inputs: &Inputs, observation: &Observation, claim: &Claim) -> Result<Change, ResourceError> {
        let change = node.plan(inputs, observation, &self.ownership)?;
        if change.action == Action::Delete && node.owned_without_tags() && *claim != Claim::Proven {
            return Ok(Change { action: Action::NoOp, note: Some(claim.why_untagged_kept().to_owned()), ..change });
        }
        Ok(change)
    }

    /// Diffs every resource. Pure: no AWS calls. All refusals are returned together, and so is
    /// an `observed` that another engine made (a bug).
    pub fn plan(&self, observed: &Observed) -> Result<Planned, Failures> {
        let pairs = self.paired(observed)?;
        let mut known: BTreeMap<ResourceId, Outputs> = BTreeMap::new();
        let mut changes = Vec::new();
        let mut failures = Vec::new();
        let claim = self.claim_of(&pairs);
        for (node, observation) in pairs {
            let inputs = self.inputs_for(node, &known);
            match self.plan_node(node, &inputs, observation, &claim) {
                Ok(change) => {
                    // A resource that is about to be created has only the outputs its name fixes
                    // (`Kind::outputs_on_create`), one to be replaced none yet; one changed in
                    // place may lose some (`Kind::outputs_during_update`).
                    if let Some(outputs) = node.planned_outputs(&inputs, observation, &change) {
                        known.insert(node.id(), outputs);
                    }
                    if !node.read_only() {
                        changes.push(change);
                    }
                }
                Err(error) => failures.push((node.id(), error)),
            }
        }
        if failures.is_empty() { Ok(Planned { changes, skipped: Vec::new() }) } else { Err(failures) }
    }

    /// The output names the kind of each of `node`'s dependencies declares.
    fn declared_inputs(&self, node: &dyn Node) -> Inputs {
        let mut inputs = Inputs::default();
        for dep in node.depends_on() {
            if let Some(other) = self.nodes.iter().find(|n| n.id() == dep) {
                inputs.declare(dep, other.declared_outputs());
            }
        }
        inputs
    }

    fn inputs_for(&self, node: &dyn Node, known: &BTreeMap<ResourceId, Outputs>) -> Inputs {
        let mut inputs = self.declared_inputs(node);
        for dep in node.depends_on() {
            if let Some(outputs) = known.get(&dep) {
                inputs.insert(dep, outputs.clone());
            }
        }
        inputs
    }

    /// Applies the plan: each resource once its dependencies are done, independent ones in
    /// parallel. A resource whose dependency failed is skipped; everything else is attempted.
    ///
    /// Once `interrupted` is set (Ctrl-C), no resource is started any more: the ones in flight
    /// finish, the rest are skipped as not started. Observations that do not match the engine
    /// (a bug) stop the apply before anything starts.
    pub async fn apply(&self, aws: &Aws, observed: &Observed, on_event: &(dyn Fn(Event<'_>) + Sync), interrupted: &AtomicBool) -> Outcome {
        let pairs = match self.paired(observed) {
            Ok(pairs) => pairs,
            Err(failures) => return self.stopped(failures, on_event),
        };
        let results: Mutex<Vec<(ResourceId, NodeOutcome)>> = Mutex::new(Vec::new());
        let permits = Semaphore::new(self.concurrency);
        let claim = self.claim_of(&pairs);
        let claim = &claim;
        let mut futures: HashMap<ResourceId, NodeFuture<'_>> = HashMap::new();
        for (node, observation) in pairs {
            let deps: Vec<(ResourceId, NodeFuture<'_>)> =
                node.depends_on().into_iter().filter_map(|d| futures.get(&d).cloned().map(|f| (d, f))).collect();
            let (results, permits) = (&results, &permits);
            let declared = self.declared_inputs(node);
            let future = async move {
                let id = node.id();
                let mut inputs = declared;
                for (dep, future) in deps {
                    match future.await {
                        Some(outputs) => inputs.insert(dep, (*outputs).clone()),
                        None => {
                            let reason = format!("not attempted: {dep} did not succeed");
                            on_event(Event::Skipped(&id, &reason));
                            record(results, id, NodeOutcome::Skipped { reason });
                            return None;
                        }
                    }
                }
                // Re-diff with the dependencies' real outputs: values unknown at diff time are
                // known now.
                let change = match self.plan_node(node, &inputs, observation, claim) {
                    Ok(change) => change,
                    Err(error) => {
                        on_event(Event::Failed(&id, Action::NoOp, &error));
                        record(results, id, NodeOutcome::Failed { action: Action::NoOp, error });
                        return None;
                    }
                };
                let live = node.live_outputs(observation).unwrap_or_default();
                if change.action == Action::NoOp {
                    if !node.read_only() {
                        record(results, id, NodeOutcome::Done { action: Action::NoOp, elapsed: Duration::ZERO });
                    }
                    return Some(Arc::new(live));
                }
                let _permit = permits.acquire().await.ok()?;
                if interrupted.load(Ordering::SeqCst) {
                    let reason = "not started: interrupted".to_owned();
                    on_event(Event::Skipped(&id, &reason));
                    record(results, id, NodeOutcome::Skipped { reason });
                    return None;
                }
                let started = Instant::now();
                on_event(Event::Started(&id, change.action));
                match node.apply(aws, &inputs, observation, &change).await {
                    Ok(outputs) => {
                        let elapsed = started.elapsed();
                        on_event(Event::Finished(&id, change.action, elapsed));
                        record(results, id, NodeOutcome::Done { action: change.action, elapsed });
                        let mut merged = if change.action == Action::Delete { Outputs::new() } else { live };
                        merged.extend(outputs);
                        Some(Arc::new(merged))
                    }
                    Err(error) => {
                        on_event(Event::Failed(&id, change.action, &error));
                        record(results, id, NodeOutcome::Failed { action: change.action, error });
                        None
                    }
                }
            };
            futures.insert(node.id(), future.boxed().shared());
        }
        let ids: Vec<ResourceId> = futures.keys().cloned().collect();
        let finished = join_all(futures.into_values()).await;
        let outputs = ids.into_iter().zip(finished).filter_map(|(id, outputs)| outputs.map(|o| (id, (*o).clone()))).collect();
        Outcome { results: results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner), outputs }
    }

    /// What `destroy` would do: delete every existing resource this plan owns, in reverse
    /// dependency order; anything else is left alone, with the reason. Refused as a whole when
    /// any resource of the plan belongs to another plan or environment, as `plan` refuses: the
    /// names collide, so nothing the names find is surely this plan's.
    pub fn plan_destroy(&self, observed: &Observed) -> Result<Planned, Failures> {
        let pairs = self.paired(observed)?;
        let claim = self.claim_of(&pairs);
        if let Claim::Contested(foreign) = &claim {
            return Err(foreign
                .iter()
                .map(|(id, plan, env)| {
                    let error = ResourceError::refused(
                        format!("{id} belongs to plan `{plan}`, environment `{env}`"),
                        "names collide with another environment: this plan's names find resources that are not its own, so destroy deletes nothing; check `project`, `user_id` and the environment name",
                    );
                    (id.clone(), error)
                })
                .collect());
        }
        let mut changes = Vec::new();
        let mut skipped = Vec::new();
        for (node, observation) in pairs.into_iter().rev() {
            if node.read_only() || !observation.exists() {
                continue;
            }
            match node.owner(observation, &self.ownership) {
                Some(Owner::Ours) => match node.kept(observation) {
                    Some(reason) => skipped.push((node.id(), reason)),
                    None => changes.push(Change { id: node.id(), action: Action::Delete, fields: Vec::new(), note: None }),
                },
                None if node.owned_without_tags() && claim == Claim::Proven => {
                    changes.push(Change { id: node.id(), action: Action::Delete, fields: Vec::new(), note: None })
                }
                None if node.owned_without_tags() => skipped.push((node.id(), claim.why_untagged_kept().to_owned())),
                Some(Owner::Unowned) => skipped.push((node.id(), "exists without pinfra's tags; not pinfra's to delete".to_owned())),
                Some(Owner::Foreign { plan, env }) => skipped.push((node.id(), format!("belongs to plan `{plan}`, environment `{env}`"))),
                None => skipped.push((node.id(), "has no tags to prove pinfra owns it".to_owned())),
            }
        }
        Ok(Planned { changes, skipped })
    }

    /// The doomed nodes, each after every doomed node that must be deleted before it
    /// ([`super::Kind::destroy_depends_on`]), ties in reverse registry order.
    fn destroy_order<'s>(doomed: &[ResourceId], pairs: Pairs<'s>) -> Pairs<'s> {
        let mut pending: Pairs<'s> = pairs.into_iter().rev().filter(|(node, _)| doomed.contains(&node.id())).collect();
        let mut ordered = Vec::with_capacity(pending.len());
        while !pending.is_empty() {
            // Ready: no other node still waiting must be deleted before it.
            let ready = pending
                .iter()
                .position(|(node, _)| pending.iter().all(|(other, _)| other.id() == node.id() || !deleted_before(*other, *node)));
            // A cycle is a bug in the kinds; delete the rest in reverse registry order.
            ordered.push(pending.remove(ready.unwrap_or(0)));
        }
        ordered
    }

    /// Deletes what `planned` lists, each resource after everything that depends on it.
    /// Like [`Engine::apply`], nothing is started once `interrupted` is set, and observations
    /// that do not match the engine stop it before anything starts.
    pub async fn destroy(
        &self,
        aws: &Aws,
        observed: &Observed,
        planned: &Planned,
        on_event: &(dyn Fn(Event<'_>) + Sync),
        interrupted: &AtomicBool,
    ) -> Outcome {
        let pairs = match self.paired(observed) {
            Ok(pairs) => pairs,
            Err(failures) => return self.stopped(failures, on_event),
        };
        let results: Mutex<Vec<(ResourceId, NodeOutcome)>> = Mutex::new(Vec::new());
        let permits = Semaphore::new(self.concurrency);
        let doomed: Vec<ResourceId> = planned.changes.iter().map(|c| c.id.clone()).collect();
        let mut futures: HashMap<ResourceId, NodeFuture<'_>> = HashMap::new();
        for (node, observation) in Self::destroy_order(&doomed, pairs) {
            let id = node.id();
            let dependents: Vec<(ResourceId, NodeFuture<'_>)> = self
                .nodes
                .iter()
                .filter(|other| deleted_before(other.as_ref(), node))
                .filter_map(|other| futures.get(&other.id()).cloned().map(|f| (other.id(), f)))
                .collect();
            let (results, permits) = (&results, &permits);
            let future = async move {
                for (dependent, future) in dependents {
                    if future.await.is_none() {
                        let reason = format!("not attempted: {dependent} was not deleted, and must be first");
                        on_event(Event::Skipped(&id, &reason));
                        record(results, id, NodeOutcome::Skipped { reason });
                        return None;
                    }
                }
                let _permit = permits.acquire().await.ok()?;
                if interrupted.load(Ordering::SeqCst) {
                    let reason = "not started: interrupted".to_owned();
                    on_event(Event::Skipped(&id, &reason));
                    record(results, id, NodeOutcome::Skipped { reason });
                    return None;
                }
                let started = Instant::now();
                on_event(Event::Started(&id, Action::Delete));
                match node.delete(aws, observation).await {
                    Ok(()) => {
                        let elapsed = started.elapsed();
                        on_event(Event::Finished(&id, Action::Delete, elapsed));
                        record(results, id, NodeOutcome::Done { action: Action::Delete, elapsed });
                        Some(Arc::new(Outputs::new()))
                    }
                    Err(error) => {
                        on_event(Event::Failed(&id, Action::Delete, &error));
                        record(results, id, NodeOutcome::Failed { action: Action::Delete, error });
                        None
                    }
                }
            };
            futures.insert(node.id(), future.boxed().shared());
        }
        join_all(futures.into_values()).await;
        Outcome { results: results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner), outputs: BTreeMap::new() }
    }

    /// The outcome of a run stopped before it started, by observations that do not match the
    /// engine: each mismatch failed, every other resource not attempted.
    fn stopped(&self, failures: Failures, on_event: &(dyn Fn(Event<'_>) + Sync)) -> Outcome {
        let mut results = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let id = node.id();
            if failures.iter().any(|(failed, _)| *failed == id) {
                continue;
            }
            let reason = "not attempted: the observations do not match the plan's resources".to_owned();
            on_event(Event::Skipped(&id, &reason));
            results.push((id, NodeOutcome::Skipped { reason }));
        }
        for (id, error) in failures {
            on_event(Event::Failed(&id, Action::NoOp, &error));
            results.push((id, NodeOutcome::Failed { action: Action::NoOp, error }));
        }
        Outcome { results, outputs: BTreeMap::new() }
    }
}

/// Whether `first` must be gone before `then` is deleted: what depends on it
/// ([`super::Kind::destroy_depends_on`]), and every untagged resource before every tagged one,
/// since the tags are what prove the untagged ones are the plan's: a failed topic deletion
/// leaves the proof, and the next destroy can finish the job.
fn deleted_before(first: &dyn Node, then: &dyn Node) -> bool {
    first.destroy_depends_on().contains(&then.id()) || (first.owned_without_tags() && !then.owned_without_tags())
}

fn record(results: &Mutex<Vec<(ResourceId, NodeOutcome)>>, id: ResourceId, outcome: NodeOutcome) {
    results.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((id, outcome));
}
