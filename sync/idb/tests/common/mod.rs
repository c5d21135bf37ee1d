//! Shared helpers and test bodies of the in-browser tests. Each test file configures one
//! context (window, dedicated worker, service worker) and expands [`all_tests!`].
#![allow(dead_code)]

pub mod changes;
pub mod connection;
pub mod console;
pub mod contexts;
pub mod double;
pub mod driver;
pub mod failures;
pub mod live;
pub mod live_worker;
pub mod push_subscribe;
pub mod pwa;
pub mod runtime;

use chat_sync_idb::IdbStore;

/// A database name no other test uses. Also turns on the crate's console log up to `Info`
/// (the first call in a context sets the level; later calls change nothing).
pub fn unique_name(prefix: &str) -> String {
    chat_sync_idb::console::init(chat_sync_idb::console::Level::Info);
    format!(
        "test-{prefix}-{}-{}",
        js_sys::Date::now() as u64,
        (js_sys::Math::random() * 1e12) as u64
    )
}

/// A fresh store on its own new database.
pub async fn open_fresh() -> IdbStore {
    IdbStore::open_named(&unique_name("suite"))
        .await
        .expect("open a fresh database")
}

/// A fresh store refusing writes past `bytes`, like a full disk.
pub async fn open_fresh_with_budget(bytes: u64) -> IdbStore {
    open_fresh().await.with_budget(bytes)
}

/// The seqs of a window's messages, in order.
pub fn seqs(window: &chat_sync::store::Window) -> Vec<u64> {
    window.messages.iter().map(|m| m.seq).collect()
}

/// Expands every in-browser test for the configured context.
#[macro_export]
macro_rules! all_tests {
    () => {
        chat_sync::store_test_suite!(
            wasm,
            common::open_fresh().await,
            quota = common::open_fresh_with_budget(20_000).await
        );
        $crate::all_tests!(@in connection:
            migration_from_version_1_keeps_every_message,
            two_connections_racing_lose_nothing,
            closed_connection_is_reopened_and_retried,
            versionchange_closes_and_reopens_cleanly,
            a_transaction_survives_a_busy_loop_only_in_its_own_task,
            cache_writes_are_relaxed_and_outbox_writes_strict,
            work_acting_as_an_agent_names_it_whoever_the_context_acts_for,
            join_all_runs_its_futures_side_by_side_in_order
        );
        $crate::all_tests!(@in failures:
            corrupt_message_is_counted_skipped_and_marked_missing,
            corrupt_chat_record_drops_the_chat,
            the_chat_list_over_a_corrupt_record_drops_it_and_lists_it_afresh,
            dom_exceptions_map_to_store_errors,
            quota_exhaustion_in_the_runtime_keeps_outbox_and_incoming
        );
        $crate::all_tests!(@in console:
            a_log_line_names_its_level_and_target_then_the_message_and_fields,
            release_builds_log_warnings_and_errors_only
        );
        $crate::all_tests!(@in runtime:
            per_user_isolation_and_wipe,
            ingest_announces_changes_on_the_broadcast_channel,
            runtime_opens_the_users_own_database,
            writes_that_add_are_handed_to_the_chats_watchers_before_they_commit,
            the_performance_timeline_keeps_a_bounded_number_of_measures
        );
        $crate::all_tests!(@in driver:
            driver_fetches_only_missing_ranges,
            driver_falls_back_to_the_cursor,
            corrupt_message_is_fetched_again,
            http_client_maps_a_404_to_refused,
            unusable_chat_is_dropped_and_reloaded,
            status_reports_fetching_and_progress_during_a_repair
        );
        $crate::all_tests!(@in contexts:
            single_flight_across_two_runtimes,
            lock_is_released_when_the_holder_dies,
            a_leased_lock_is_taken_over_from_a_frozen_holder
        );
        // The catch-up runs in every context (it needs no EventSource), so it joins the
        // shared cases.
        $crate::all_tests!(@in live: catch_up_fetches_only_interior_and_trailing_gaps);
        $crate::all_tests!(@pwa
            migration_from_version_2_keeps_every_message,
            outbox_refuses_the_101st_and_keeps_files_with_entries,
            flush_backs_off_offline_and_parks_on_a_4xx,
            media_index_counts_and_evicts_least_recently_used,
            wipe_user_removes_the_database_and_the_media_cache,
            clearing_other_agents_removes_their_caches_but_keeps_unsent_work,
            concurrent_flushes_send_each_entry_once,
            the_remembered_agent_is_one_entry_for_pages_and_the_worker
        );
        $crate::all_tests!(@changes
            a_change_hole_fetches_only_the_changes_and_erases_the_redacted,
            a_forbidden_fetch_revokes_the_chat
        );
    };
    (with_workers) => {
        $crate::all_tests!();
        $crate::all_tests!(@in contexts:
            single_flight_with_a_second_context,
            lock_held_by_a_dead_context_is_released
        );
    };
    (@pwa $($name:ident),+) => {
        $(
            #[::wasm_bindgen_test::wasm_bindgen_test]
            async fn $name() {
                common::pwa::$name().await;
            }
        )+
    };
    (@changes $($name:ident),+) => {
        $(
            #[::wasm_bindgen_test::wasm_bindgen_test]
            async fn $name() {
                common::changes::$name().await;
            }
        )+
    };
    (@in $module:ident: $($name:ident),+) => {
        $(
            #[::wasm_bindgen_test::wasm_bindgen_test]
            async fn $name() {
                common::$module::$name().await;
            }
        )+
    };
}
