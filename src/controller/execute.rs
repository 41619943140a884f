//! The thin executor around `decide`: resolve the account, look where the decision says, take the
//! step it names (create through the intent protocol, adopt, update), and report the outcome.

use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};

use super::account::ConfigView;
use super::decide::{self, Adoption, Change, Facts, Found, Lookup, Seen, Step};
use super::error::{Error, Result};
use super::report::Outcome;
use super::status::{self, READY};
use super::{Context, account, intent};
use crate::crd::{ConditionStatus, Managed, ManagementPolicy};
use crate::providers::http::Priority;
use crate::providers::{self, Account, Desired, Provider};

/// The account of `obj`'s config for `P`. Cleanup passes `validate: false`: deleting must not
/// depend on the spec validating (a spec broken after the object was created must still be
/// deletable).
pub async fn prepare<K: Managed, P: Provider>(
    obj: &K,
    ctx: &Context,
    provider: &P,
    desired: Desired<'_, P::Spec>,
    validate: bool,
) -> Result<Account> {
    let view = config_of(obj, ctx, provider, desired, validate).await?;
    account::account::<P>(ctx, &view).await
}

/// The config of `obj`, checked to be for `P` (and the spec validated, unless cleaning up).
async fn config_of<K: Managed, P: Provider>(
    obj: &K,
    ctx: &Context,
    provider: &P,
    desired: Desired<'_, P::Spec>,
    validate: bool,
) -> Result<ConfigView> {
    if validate {
        provider.validate(desired)?;
    }
    let namespace = obj.namespace().unwrap_or_default();
    let m = obj.managed();
    let view = account::config(ctx, &namespace, &m.provider_config_ref).await?;
    config_is_for::<P>(&view)?;
    Ok(view)
}

/// Refuses a config for another product than the spec's block names.
pub fn config_is_for<P: Provider>(view: &ConfigView) -> Result<()> {
    if view.provider != P::KIND {
        return Err(Error::InvalidSpec(format!(
            "the spec has a {} block but {} is for {}",
            P::KIND,
            view.describe,
            view.provider
        )));
    }
    Ok(())
}

/// Why a credential's listing could not be made: the product's answer (the resources report
/// it), or the account itself (each resource then finds out on its own, without a call).
#[derive(Clone)]
enum ListingFailure {
    Product(providers::Error),
    Account,
}

/// A poll of a resource that was in sync, from its credential's listing (see `listings`): the
/// outcome when the listing shows the object still matching the spec, None when it cannot tell
/// (the object is missing from it or differs, or the product's listing lacks the fields): the
/// object is then read on its own before anything is written.
async fn poll_from_listing<K: Managed, P: Provider>(
    obj: &K,
    ctx: &Context,
    provider: &P,
    desired: Desired<'_, P::Spec>,
    facts: &Facts,
    priority: Priority,
) -> Result<Option<Outcome>> {
    let Some(id) = facts
        .known
        .as_deref()
        .filter(|_| priority == Priority::Background && P::LISTS_OBJECTS)
    else {
        return Ok(None);
    };
    if obj
        .annotations()
        .contains_key(crate::crd::POLL_INTERVAL_ANNOTATION)
    {
        // Polled on its own schedule: one read beats a listing.
        return Ok(None);
    }
    let view = config_of(obj, ctx, provider, desired, true).await?;
    let (_, key) = account::base_url_and_key::<P>(&ctx.config.base_urls, &view)?;
    let scope = provider.scope(desired.spec);
    let listing = ctx
        .listings
        .get(&key, &scope, ctx.listing_freshness(), || async {
            let account = account::account::<P>(ctx, &view)
                .await
                .map_err(|_| ListingFailure::Account)?;
            provider
                .list(&account, &scope)
                .await
                .map_err(ListingFailure::Product)
        })
        .await;
    let listing = match listing {
        Ok(listing) => listing,
        Err(ListingFailure::Product(e)) => return Err(e.into()),
        Err(ListingFailure::Account) => return Ok(None),
    };
    let Some(object) = listing.get(id).and_then(|l| l.object.as_ref()) else {
        return Ok(None);
    };
    if !provider.drift(desired, object).is_empty() {
        return Ok(None);
    }
    Ok(Some(Outcome {
        provider: P::KIND,
        account_key: key,
        summary: provider.summary(desired, object),
        external_id: id.to_string(),
        unmanaged_drift: Vec::new(),
        events: Vec::new(),
        settle_intent: false,
    }))
}

/// The resource's facts, as the decision reads them.
pub fn facts<K: Managed>(obj: &K) -> Facts {
    let m = obj.managed();
    let status = obj.managed_status();
    Facts {
        wanted: m.external_id.clone(),
        known: status.and_then(|s| s.external_id.clone()),
        intent: intent::pending(obj),
        observe_only: m.management_policy == ManagementPolicy::ObserveOnly,
        was_ready: status.is_some_and(|s| {
            s.observed_generation == obj.meta().generation
                && status::find(&s.conditions, READY)
                    .is_some_and(|c| c.status == ConditionStatus::True)
        }),
    }
}

/// Looks where `lookup` says; returns what was found and the objects themselves. With
/// `listings`, a lookup by name in a product without a name search joins the credential's
/// listing if one is being made right now (creates that arrive together list once); it never
/// uses one made before it asked, which could miss an object someone else just gave the name.
pub async fn find<P: Provider>(
    provider: &P,
    account: &Account,
    desired: Desired<'_, P::Spec>,
    lookup: &Lookup,
    listings: Option<&super::listings::Listings>,
) -> Result<(Found, Vec<P::Object>)> {
    let seen = |o: &P::Object| Seen {
        id: provider.id_of(o),
        drift: provider.drift(desired, o),
    };
    Ok(match lookup {
        Lookup::Id(id) => {
            let object = provider.observe(account, desired, id).await?;
            (
                Found::Id(object.as_ref().map(seen)),
                object.into_iter().collect(),
            )
        }
        Lookup::Key(key) => {
            let object = provider.observe(account, desired, key).await?;
            (
                Found::Named(object.iter().map(seen).collect()),
                object.into_iter().collect(),
            )
        }
        Lookup::Name => {
            let named = match listings.filter(|_| !P::SEARCHES_BY_NAME) {
                Some(listings) => {
                    let scope = provider.scope(desired.spec);
                    let listing = listings
                        .get(&account.key, &scope, std::time::Duration::ZERO, || {
                            provider.list(account, &scope)
                        })
                        .await?;
                    providers::named(listing.values(), desired.name)
                }
                None => provider.find_named(account, desired).await?,
            };
            found_named(provider, account, desired, named).await?
        }
    })
}

/// What a lookup by name found among `named` (the listed objects carrying the name): listed
/// objects that lack the fields drift needs are completed by a read.
pub async fn found_named<P: Provider>(
    provider: &P,
    account: &Account,
    desired: Desired<'_, P::Spec>,
    named: impl IntoIterator<Item = providers::Listed<P::Object>>,
) -> Result<(Found, Vec<P::Object>)> {
    let mut objects = Vec::new();
    for listed in named {
        let object = match listed.object {
            Some(o) => Some(o),
            None => provider.observe(account, desired, &listed.id).await?,
        };
        objects.extend(object);
    }
    let seen = objects
        .iter()
        .map(|o| Seen {
            id: provider.id_of(o),
            drift: provider.drift(desired, o),
        })
        .collect();
    Ok((Found::Named(seen), objects))
}

/// Finds the object and brings it in line with the spec (or reports it, under ObserveOnly).
/// The longest wait for a credential's budget a reconcile spends in its controller slot; a
/// longer one requeues the resource for when the budget has room.
const BUDGET_WAIT_IN_SLOT: std::time::Duration = std::time::Duration::from_millis(250);

pub async fn converge<K: Managed, P: Provider>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    finalizer: &intent::Finalizer,
    provider: &P,
    desired: Desired<'_, P::Spec>,
) -> Result<Outcome> {
    // Tenant guardrails first: a resource over its namespace's ceiling is reported even when a
    // poll finds it in sync, and nothing below writes to the product.
    super::guardrails::check(ctx, obj).await?;
    let mut facts = facts(obj);
    // A poll of a resource in sync can wait; a resource that changed (a new annotation, say)
    // is read afresh: whoever changed it expects a look at the product now, not at a listing
    // made before.
    let object_key = super::object_key(obj);
    let changed = ctx.take_changed(&object_key);
    let priority = facts.priority(changed);
    if let Some(outcome) = poll_from_listing(obj, ctx, provider, desired, &facts, priority).await? {
        return Ok(outcome);
    }
    let view = config_of(obj, ctx, provider, desired, true).await?;
    let (_, key) = account::base_url_and_key::<P>(&ctx.config.base_urls, &view)?;
    let who = super::hash(&object_key);
    if let Some(wait) = ctx
        .providers
        .http
        .busy_for(&key, priority, who, BUDGET_WAIT_IN_SLOT)
        && wait > BUDGET_WAIT_IN_SLOT
    {
        // Wait outside the controller's slot: others' credentials may have budget now. Each
        // waiter is told the instant of its own place; a little jitter spreads those told the
        // same instant (a window's calls still out).
        let jitter = std::time::Duration::from_millis(rand::random_range(0..20));
        return Err(providers::Error::BudgetWait(providers::BudgetWait {
            provider: P::KIND,
            operation: "reconcile",
            wait: wait + jitter,
        })
        .into());
    }
    let account = account::account::<P>(ctx, &view).await?;
    let product = P::KIND.as_str();
    // Anything written below makes the credential's listing stale.
    let forget = || {
        ctx.listings
            .forget(&account.key, &provider.scope(desired.spec))
    };
    if let Some(id) = &facts.wanted {
        provider.check_external_id(&account, desired, id)?;
    }
    let lookup = decide::lookup(&facts, P::IDENTITY, || {
        provider.name_key(&account, desired.name)
    });
    // A create that may have happened (the intent is there) is looked for in a new listing.
    let shared = (!facts.intent).then_some(&ctx.listings);
    let (found, mut objects) = find(provider, &account, desired, &lookup, shared).await?;
    let mut events = Vec::new();
    let mut settle_intent = false;
    let (id, object, change) = match decide::step(&facts, product, desired.name, &found) {
        Step::Fail(failure) => return Err(failure.into()),
        Step::Create { recreating } => {
            if let Some(old) = recreating {
                events.push((
                    EventType::Warning,
                    "Recreating",
                    format!(
                        "the {product} object {old} was deleted outside Roleplane; creating it again"
                    ),
                ));
            }
            let created = intent::create(obj, api, finalizer, provider, &account, desired).await;
            // The listing gains what was created; after a failure, whether anything was
            // created is not known, so the listing is made again.
            match &created {
                Ok(object) => ctx.listings.insert(
                    &account.key,
                    &provider.scope(desired.spec),
                    provider.listed(object.clone()),
                ),
                Err(_) => forget(),
            }
            let created = created?;
            let id = provider.id_of(&created);
            events.push((
                EventType::Normal,
                super::report::CREATED,
                format!("created {product} object {id}"),
            ));
            // What the product answered is checked like any read: a difference is corrected.
            facts.was_ready = false;
            let change = decide::change(&facts, &provider.drift(desired, &created));
            if matches!(change, Change::Update { .. }) {
                // Another product call follows: the id goes into status first.
                intent::settle(obj, api, P::KIND, &id).await?;
            } else {
                settle_intent = true;
            }
            (id, created, change)
        }
        Step::Keep { id, adopt, change } => {
            // The object is Roleplane's to update, and to delete with the resource.
            finalizer.ensure(obj, api).await?;
            let at = objects
                .iter()
                .position(|o| provider.id_of(o) == id)
                .expect("the decision keeps an object that was found");
            let object = objects.swap_remove(at);
            if let Some(adoption) = adopt {
                if adoption == Adoption::InterruptedCreate {
                    if matches!(change, Change::Update { .. }) {
                        intent::settle(obj, api, P::KIND, &id).await?;
                    } else {
                        settle_intent = true;
                    }
                }
                events.push((
                    EventType::Normal,
                    "Adopted",
                    decide::adoption_note(adoption, product, &id),
                ));
            }
            (id, object, change)
        }
    };
    let mut unmanaged_drift = Vec::new();
    let object = match change {
        Change::None => object,
        Change::Report { fields } => {
            unmanaged_drift = fields;
            object
        }
        Change::Update {
            fields,
            out_of_band,
        } => {
            let after = provider.update(&account, desired, &object).await;
            forget();
            let after = after?;
            let left = provider.drift(desired, &after);
            if !left.is_empty() {
                return Err(providers::Error::Api(providers::ApiError {
                    provider: P::KIND,
                    operation: "update",
                    status: None,
                    message: format!(
                        "the update was accepted but these fields still differ: {}",
                        left.join(", ")
                    ),
                    retry_after: None,
                })
                .into());
            }
            let fields = fields.join(", ");
            events.push(if out_of_band {
                (
                    EventType::Warning,
                    "DriftCorrected",
                    format!(
                        "{product} object {id} was changed outside Roleplane; corrected {fields}"
                    ),
                )
            } else {
                (
                    EventType::Normal,
                    "Updated",
                    format!("updated {product} object {id}: {fields}"),
                )
            });
            after
        }
    };
    Ok(Outcome {
        provider: P::KIND,
        account_key: account.key.clone(),
        summary: provider.summary(desired, &object),
        external_id: id,
        unmanaged_drift,
        events,
        settle_intent,
    })
}
