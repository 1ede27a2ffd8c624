//! Running one operation on many instances with bounded concurrency.

use std::collections::BTreeMap;
use std::future::Future;

use futures_util::StreamExt;
use release_model::deployment::InstanceName;
use tracing::Instrument;

/// Runs `op` for every instance, at most `concurrency` at a time, and returns each
/// instance's own result: one failure never discards the others'.
///
/// ```
/// # tokio_test_block(async {
/// use release_model::deployment::InstanceName;
/// use syndication_client::fan_out;
///
/// let names: Vec<InstanceName> = ["a", "b", "c"].iter().map(|n| InstanceName::new(n).unwrap()).collect();
/// let results = fan_out(&names, 2, |name| async move {
///     if name.as_str() == "b" { Err(format!("{name} is down")) } else { Ok(name.as_str().len()) }
/// }).await;
/// assert_eq!(results.len(), 3);
/// assert!(results[&names[1]].is_err());
/// assert_eq!(results[&names[0]], Ok(1));
/// # });
/// # fn tokio_test_block<F: std::future::Future>(f: F) -> F::Output {
/// #     futures_executor_block_on(f)
/// # }
/// # fn futures_executor_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
pub async fn fan_out<T, E, F, Fut>(
    instances: &[InstanceName],
    concurrency: usize,
    op: F,
) -> BTreeMap<InstanceName, Result<T, E>>
where
    F: Fn(InstanceName) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    futures_util::stream::iter(instances.iter().cloned())
        .map(|name| {
            let span = tracing::info_span!("instance", name = %name);
            let fut = op(name.clone());
            async move { (name, fut.await) }.instrument(span)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}
