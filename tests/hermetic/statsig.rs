//! Statsig only: what its API leaves open (the status of a duplicate create).

use std::collections::BTreeMap;

use roleplane::crd::StatsigRole;
use roleplane::providers::statsig::Statsig;
use roleplane::providers::{Account, Credentials, Desired, ErrorClass, Provider, Simulator};

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_of_a_taken_name_is_already_exists_whether_statsig_answers_400_or_409() {
    let (sim, base) = Simulator::start(Default::default())
        .await
        .expect("simulator");
    let statsig = Statsig::new(test_providers().http);
    let account = Account::of::<Statsig>(
        format!("{base}/statsig"),
        Default::default(),
        Credentials::new([("apiKey".to_string(), STATSIG_KEY.to_string())]),
        "test",
    );
    let role = StatsigRole::default();
    let taken = Desired {
        name: "Taken",
        spec: &role,
    };
    sim.statsig.put_role(STATSIG_KEY, "Taken", BTreeMap::new());
    for status in [400, 409] {
        sim.statsig.set_duplicate_status(status);
        let err = statsig
            .create(&account, taken)
            .await
            .expect_err("the name is taken");
        assert_eq!(err.class(), ErrorClass::AlreadyExists, "{status}: {err}");
        assert!(err.to_string().contains(&format!("HTTP {status}")), "{err}");
    }
    // Other bad input stays a rejection, not a name clash.
    let blank = Desired {
        name: " ",
        spec: &role,
    };
    let err = statsig
        .create(&account, blank)
        .await
        .expect_err("blank name");
    assert_eq!(err.class(), ErrorClass::ProviderRejected, "{err}");
    assert_eq!(sim.statsig.roles(STATSIG_KEY).len(), 1);
}
