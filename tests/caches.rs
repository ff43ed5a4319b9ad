//! Caches with keys: the hit ratio is an outcome of popularity, capacity,
//! TTL and routing, checked against the analytic models of caching; a
//! flush empties a cache and the misses that follow load what is behind
//! it; coalescing turns a hot key's expiry into one read.

use std::path::PathBuf;

use faultline::observe::metrics::Row;
use faultline::sim::RunSummary;
use faultline::sim::caches::CacheTotals;
use faultline::spec::Source;
use faultline::topology::{Component, Topology};

use crate::common::{SECOND, endpoint, run, run_with_faults, sum, topology};

/// A front service reading through a cache (cache-aside) with the given
/// `keys`, to a database whose reads take `read`; `cache_instances` in one
/// zone.
fn read_through(keys: &str, read: &str, rate: &str, cache_instances: u32) -> String {
    format!(
        r#"{{
        "name": "catalog", "zones": ["z"],
        "services": {{
            "front": {{ "instances": {{ "per_zone": 2 }}, "workers": 2000, "queue": 0,
                "endpoints": {{ "item": {{ "work": {{ "constant": "1ms" }},
                    "calls": {{
                        "cache": {{ "to": "cache.get", "timeout": "1s" }},
                        "db": {{ "to": "db.read", "timeout": "5s", "when": "miss" }} }} }} }} }},
            "cache": {{ "kind": "cache", "instances": {{ "per_zone": {cache_instances} }},
                "workers": 1000, "queue": 0,
                "endpoints": {{ "get": {{ "work": {{ "constant": "100us" }}, "keys": {keys} }} }} }},
            "db": {{ "kind": "database", "workers": 2000, "queue": 0,
                "endpoints": {{ "read": {{ "work": {read} }} }} }}
        }},
        "workload": {{ "w": {{ "endpoint": "front.item", "rate": "{rate}" }} }}
    }}"#
    )
}

/// The lookups of the endpoint `cache.get`.
fn lookups(t: &Topology, summary: &RunSummary) -> CacheTotals {
    let Component::Endpoint(e) = endpoint(t, "cache.get") else {
        unreachable!()
    };
    summary.caches[e as usize]
}

fn hit_ratio(t: &Topology, summary: &RunSummary) -> f64 {
    let c = lookups(t, summary);
    assert_eq!(c.lookups, c.hits + c.misses);
    c.hits as f64 / c.lookups as f64
}

/// Popularity of each key under Zipf(`s`) over `n` keys, most popular first.
fn zipf(n: usize, s: f64) -> Vec<f64> {
    let weights: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
    let total: f64 = weights.iter().sum();
    weights.into_iter().map(|w| w / total).collect()
}

/// Che's approximation of an LRU cache of `capacity` keys under
/// independent requests with popularity `p`: the characteristic time `t`
/// solves Σ (1 − e^(−p_k t)) = capacity; the hit ratio is
/// Σ p_k (1 − e^(−p_k t)). Known to be accurate to about a percent.
fn che(p: &[f64], capacity: f64) -> f64 {
    let occupied = |t: f64| p.iter().map(|q| 1.0 - (-q * t).exp()).sum::<f64>();
    let (mut lo, mut hi) = (0.0, 1e15);
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if occupied(mid) < capacity {
            lo = mid
        } else {
            hi = mid
        }
    }
    p.iter().map(|q| q * (1.0 - (-q * lo).exp())).sum()
}

#[test]
fn an_lru_caches_hit_ratio_agrees_with_ches_approximation() {
    let t = topology(&read_through(
        r#"{ "count": 20000, "zipf": 0.8, "capacity": 2000 }"#,
        r#"{ "constant": "1ms" }"#,
        "2000/s",
        1,
    ));
    let (summary, _) = run(&t, 3, 200, 100);
    let measured = hit_ratio(&t, &summary);
    let expected = che(&zipf(20000, 0.8), 2000.0);
    assert!(
        (measured - expected).abs() < 0.01,
        "measured {measured:.4}, Che {expected:.4}"
    );
}

#[test]
fn a_ttl_caches_hit_ratio_agrees_with_the_renewal_formula() {
    // No eviction: a key is stored at a miss and hit until its TTL ends;
    // under Poisson requests at rate λ each cycle has one miss and λT hits
    // on average, so its hit ratio is λT / (1 + λT).
    let rate = 2000.0;
    let ttl = 1.0;
    let t = topology(&read_through(
        r#"{ "count": 1000, "zipf": 1.0, "ttl": "1s" }"#,
        r#"{ "constant": "100us" }"#,
        "2000/s",
        1,
    ));
    let (summary, _) = run(&t, 5, 130, 10);
    let measured = hit_ratio(&t, &summary);
    let expected: f64 = zipf(1000, 1.0)
        .iter()
        .map(|p| {
            let lt = rate * p * ttl;
            p * lt / (1.0 + lt)
        })
        .sum();
    assert!(
        (measured - expected).abs() < 0.01,
        "measured {measured:.4}, renewal formula {expected:.4}"
    );
}

#[test]
fn routing_by_key_shares_the_capacity_that_routing_by_balancer_repeats() {
    // Two instances of 1000 keys each: sharded, they hold 2000 distinct
    // keys; behind a balancer, each holds its own copy of the same hot set.
    let by = |routing: &str| {
        let t = topology(&read_through(
            &format!(
                r#"{{ "count": 20000, "zipf": 0.8, "capacity": 1000, "routing": "{routing}" }}"#
            ),
            r#"{ "constant": "1ms" }"#,
            "2000/s",
            2,
        ));
        let (summary, _) = run(&t, 3, 200, 100);
        hit_ratio(&t, &summary)
    };
    let (sharded, copied) = (by("key"), by("balancer"));
    let p = zipf(20000, 0.8);
    // Sharded by key modulo 2: each instance sees the keys of one parity.
    let shard = |parity: usize| {
        let share: Vec<f64> = p.iter().skip(parity).step_by(2).copied().collect();
        let total: f64 = share.iter().sum();
        let normalised: Vec<f64> = share.iter().map(|q| q / total).collect();
        total * che(&normalised, 1000.0)
    };
    let expected_sharded = shard(0) + shard(1);
    // Behind the balancer each instance sees every key at half the rate:
    // the same popularity, so Che's ratio for one instance of 1000.
    let expected_copied = che(&p, 1000.0);
    assert!(
        (sharded - expected_sharded).abs() < 0.01,
        "sharded {sharded:.4}, Che {expected_sharded:.4}"
    );
    assert!(
        (copied - expected_copied).abs() < 0.01,
        "copied {copied:.4}, Che {expected_copied:.4}"
    );
    assert!(sharded > copied + 0.05, "{sharded:.4} vs {copied:.4}");
}

/// The rows of `component` whose windows start from `from_s` to before `to_s`.
fn between(rows: &[Row], component: Component, from_s: u64, to_s: u64) -> Vec<&Row> {
    rows.iter()
        .filter(|r| {
            r.component == component
                && r.window_start >= from_s * SECOND
                && r.window_start < to_s * SECOND
        })
        .collect()
}

fn db_reads(t: &Topology, rows: &[Row], from_s: u64, to_s: u64) -> u64 {
    sum(&between(rows, endpoint(t, "db.read"), from_s, to_s), |r| {
        r.arrivals
    })
}

#[test]
fn coalescing_turns_a_hot_keys_expiry_into_one_read() {
    // One key asked for 1000 times a second, fresh for 1 s, read in 100 ms.
    // Without coalescing every request in the 100 ms after it expires
    // misses and reads it: about 100 reads a cycle. With coalescing they
    // wait for the first read: one a cycle (a cycle is TTL + read).
    let reads = |coalesce: bool| {
        let t = topology(&read_through(
            &format!(r#"{{ "count": 1, "ttl": "1s", "coalesce": {coalesce} }}"#),
            r#"{ "constant": "100ms" }"#,
            "1000/s",
            1,
        ));
        let (summary, rec) = run(&t, 8, 60, 5);
        (t.clone(), summary, db_reads(&t, &rec.rows, 5, 60))
    };
    let (_, _, alone) = reads(false);
    let (t, summary, coalesced) = reads(true);
    let per_second = |n: u64| n as f64 / 55.0;
    assert!(
        (80.0..120.0).contains(&per_second(alone)),
        "{} reads/s without coalescing",
        per_second(alone)
    );
    assert!(
        (0.8..1.0).contains(&per_second(coalesced)),
        "{} reads/s with coalescing",
        per_second(coalesced)
    );
    // The others waited and were answered with the stored key: none failed.
    let c = lookups(&t, &summary);
    assert!(c.coalesced > 80 * 50, "{} coalesced", c.coalesced);
    assert_eq!(summary.entries[0].error_count(), 0);
}

#[test]
fn a_flush_empties_the_cache_and_its_misses_load_the_database() {
    let model = read_through(
        r#"{ "count": 5000, "zipf": 1.0 }"#,
        r#"{ "constant": "1ms" }"#,
        "1000/s",
        2,
    );
    let (t, summary, rec) = run_with_faults(
        &model,
        r#"{ "flush": { "kind": "cache_flush", "target": "cache", "at": "60s" } }"#,
        4,
        90,
        10,
    );
    let before = db_reads(&t, &rec.rows, 50, 60);
    let after = db_reads(&t, &rec.rows, 60, 61);
    let later = db_reads(&t, &rec.rows, 80, 90);
    // Warm, about a tenth of the requests miss (keys never asked before);
    // the second after the flush, nearly every key is asked for afresh.
    assert!(before < 10 * 150, "{before} reads in the 10 s before");
    assert!(after > 400, "{after} reads in the second after");
    assert!(later < 10 * 200, "{later} reads in 80–90 s");
    let flushed = lookups(&t, &summary).flushed;
    assert!((2000..=5000).contains(&flushed), "{flushed} keys flushed");
}

#[test]
fn a_restarted_cache_instance_comes_back_cold() {
    let model = read_through(
        r#"{ "count": 2000, "zipf": 1.0 }"#,
        r#"{ "constant": "1ms" }"#,
        "1000/s",
        1,
    )
    .replace(
        r#""kind": "cache","#,
        r#""kind": "cache", "restart": { "delay": "1s" },"#,
    );
    let (t, _, rec) = run_with_faults(
        &model,
        r#"{ "kill": { "kind": "instance_kill", "target": "cache", "at": "40s" } }"#,
        6,
        60,
        5,
    );
    let cache = endpoint(&t, "cache.get");
    let window = |from: u64, to: u64| {
        let rows = between(&rec.rows, cache, from, to);
        (
            sum(&rows, |r| r.hits) as f64,
            sum(&rows, |r| r.misses) as f64,
        )
    };
    let (hits, misses) = window(35, 40);
    assert!(
        hits / (hits + misses) > 0.9,
        "warm: {hits} hits, {misses} misses"
    );
    // Back at 41 s with nothing stored: in its first second each key misses
    // once if it is asked for at all, 1 − e^(−λ_k · 1 s) on average.
    let (hits, misses) = window(41, 42);
    let expected: f64 = zipf(2000, 1.0)
        .iter()
        .map(|p| 1.0 - (-1000.0 * p).exp())
        .sum();
    assert!(
        (misses - expected).abs() < 0.1 * expected,
        "{misses} misses in the first second back, {expected:.0} expected ({hits} hits)"
    );
}

fn problems(model: &str) -> String {
    let source = Source {
        path: PathBuf::from("m.json"),
        text: model.to_string(),
    };
    match Topology::from_source(&source) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn keys_are_checked_where_they_are_written() {
    let on_service = read_through(r#"{ "count": 10 }"#, r#"{ "constant": "1ms" }"#, "1/s", 1)
        .replace(r#""kind": "cache","#, "");
    assert!(
        problems(&on_service).contains("services.cache.endpoints.get.keys")
            && problems(&on_service).contains("kind `cache`"),
        "{}",
        problems(&on_service)
    );
    let both = read_through(
        r#"{ "count": 10 }, "hit_ratio": 0.5"#,
        r#"{ "constant": "1ms" }"#,
        "1/s",
        1,
    );
    assert!(problems(&both).contains("either `hit_ratio` or `keys`"));
    let bad = read_through(
        r#"{ "count": 10, "capacity": 11, "zipf": -1, "ttl": "0s" }"#,
        r#"{ "constant": "1ms" }"#,
        "1/s",
        1,
    );
    let found = problems(&bad);
    for expected in [
        "keys.capacity",
        "expected 1 to 10 keys",
        "keys.zipf",
        "keys.ttl",
    ] {
        assert!(found.contains(expected), "{expected} in {found}");
    }
    let huge = read_through(
        r#"{ "count": 10000000 }"#,
        r#"{ "constant": "1ms" }"#,
        "1/s",
        3,
    );
    assert!(
        problems(&huge).contains("at most 20000000"),
        "{}",
        problems(&huge)
    );
}

#[test]
fn a_sharding_client_goes_around_the_caches_load_balancer() {
    // Routed by key, calls reach the shard directly (as a memcached client
    // does) and keep hitting while the cache's balancer is down; routed by
    // the balancer, every lookup fails and the reads behind it go on.
    let outage = r#"{ "lb": { "kind": "load_balancer_outage", "target": "cache", "mode": "refuse", "at": "30s", "for": "10s" } }"#;
    let hits_during = |routing: &str| {
        let model = read_through(
            &format!(r#"{{ "count": 100, "routing": "{routing}" }}"#),
            r#"{ "constant": "1ms" }"#,
            "500/s",
            2,
        )
        .replace(
            r#""cache": { "to": "cache.get", "timeout": "1s" }"#,
            r#""cache": { "to": "cache.get", "timeout": "1s", "fallback": "degrade" }"#,
        );
        let (t, summary, rec) = run_with_faults(&model, outage, 2, 50, 5);
        let cache = endpoint(&t, "cache.get");
        let rows = between(&rec.rows, cache, 30, 40);
        assert_eq!(summary.entries[0].error_count(), 0, "{routing}");
        sum(&rows, |r| r.hits)
    };
    assert!(hits_during("key") > 10 * 450);
    assert_eq!(hits_during("balancer"), 0);
}
