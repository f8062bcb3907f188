//! Timestamp queries, for per-dispatch GPU timings (`etvk_run --profile`, ETDump).

use std::sync::Arc;

use ash::vk;

use super::testing::{self, Object};
use super::vk_error;
use super::{CommandBuffer, Context};
use crate::error::{Error, Result};

/// A pool of `count` timestamp queries.
pub struct TimestampPool {
    ctx: Arc<Context>,
    pool: vk::QueryPool,
    count: u32,
}

impl TimestampPool {
    pub fn new(ctx: &Arc<Context>, count: u32) -> Result<Self> {
        if ctx.caps().timestamp_valid_bits == 0 {
            return Err(Error::not_supported(
                "the device's compute queue has no timestamps: profiling is not available",
            ));
        }
        let info = vk::QueryPoolCreateInfo::default()
            .query_type(vk::QueryType::TIMESTAMP)
            .query_count(count.max(1));
        let pool = testing::fault("vkCreateQueryPool", false)
            // SAFETY: valid create info on a live device.
            .and_then(|()| unsafe { ctx.device().create_query_pool(&info, None) })
            .map_err(|r| vk_error("vkCreateQueryPool", r))?;
        testing::created(Object::QueryPool);
        Ok(TimestampPool {
            ctx: ctx.clone(),
            pool,
            count: count.max(1),
        })
    }

    /// Every query's value in nanoseconds; waits for them (call after the submission's fence).
    pub fn read_ns(&self) -> Result<Vec<u64>> {
        let mut ticks = vec![0u64; self.count as usize];
        // SAFETY: the pool holds `count` queries, all written by a completed submission.
        unsafe {
            self.ctx.device().get_query_pool_results(
                self.pool,
                0,
                &mut ticks,
                vk::QueryResultFlags::TYPE_64 | vk::QueryResultFlags::WAIT,
            )
        }
        .map_err(|r| vk_error("vkGetQueryPoolResults", r))?;
        let bits = self.ctx.caps().timestamp_valid_bits;
        let mask = if bits >= 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        let period = self.ctx.caps().timestamp_period_ns as f64;
        Ok(ticks
            .iter()
            .map(|&t| ((t & mask) as f64 * period) as u64)
            .collect())
    }
}

impl Drop for TimestampPool {
    fn drop(&mut self) {
        // SAFETY: owners wait for submissions using the pool before dropping it.
        unsafe { self.ctx.device().destroy_query_pool(self.pool, None) };
        testing::destroyed(Object::QueryPool);
    }
}

impl CommandBuffer {
    /// Resets every query of `pool` (before writing them again in this recording).
    pub fn reset_queries(&mut self, pool: &TimestampPool) {
        // SAFETY: recording state; the pool is alive while this buffer can be submitted.
        unsafe {
            self.ctx
                .device()
                .cmd_reset_query_pool(self.handle(), pool.pool, 0, pool.count)
        };
    }

    /// Writes timestamp `index`: when earlier commands start (`end` false: top of pipe) or
    /// finish (`end` true: bottom of pipe).
    pub fn timestamp(&mut self, pool: &TimestampPool, index: u32, end: bool) {
        let stage = if end {
            vk::PipelineStageFlags::BOTTOM_OF_PIPE
        } else {
            vk::PipelineStageFlags::TOP_OF_PIPE
        };
        // SAFETY: recording state; index < count (callers size the pool per dispatch).
        unsafe {
            self.ctx
                .device()
                .cmd_write_timestamp(self.handle(), stage, pool.pool, index)
        };
    }
}
