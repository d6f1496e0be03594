//! Data parallelism: one replica of the model per device (several may share
//! the CPU device), each training on its own shard of the batches. Their
//! gradients become one on the main device, where the loop averages, clips
//! and steps the optimiser exactly as it does for one device; the replicas
//! start each step from the main device's parameters.
//!
//! The gradients are gathered (any backend: moved to the main device and
//! summed, then divided by the micro-batches like accumulated ones) or, on
//! several CUDA GPUs, averaged by burn's collectives (NCCL) during each
//! replica's `backward()`.

use std::sync::Arc;
use std::thread;

use burn::data::dataloader::DataLoader;
use burn::module::{Module, ModuleMapper, Param};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::Device;
use burn::tensor::Tensor;
use burn::tensor::distributed::{DistributedConfig, DistributedContext, ReduceOperation};
use burn::train::train::{MultiDeviceStepError, WorkerFailure};
use burn::train::{TrainOutput, TrainStep};

/// How the replicas' gradients become one.
#[derive(Clone)]
pub enum Reduction {
    /// Moved to the main device and summed; the loop divides by their number.
    Gather,
    /// Averaged across the devices by burn's collectives during `backward()`.
    AllReduce(Arc<DistributedContext>),
}

/// The devices a run trains on; the first is the main one, which holds the
/// optimiser, validates and writes checkpoints.
#[derive(Clone)]
pub struct Replicas {
    devices: Vec<Device>,
    reduction: Reduction,
}

impl Replicas {
    /// Training on one device.
    pub fn single(device: Device) -> Self {
        Self::gathered(vec![device])
    }

    /// Replicas on `devices` (autodiff devices, at least one), gradients gathered.
    pub fn gathered(devices: Vec<Device>) -> Self {
        assert!(!devices.is_empty(), "at least one device");
        Self {
            devices,
            reduction: Reduction::Gather,
        }
    }

    /// Replicas on distinct `devices` whose backend has collectives (CUDA),
    /// gradients averaged by an all-reduce; starts burn's communication server.
    pub fn all_reduced(devices: Vec<Device>) -> Self {
        let config = DistributedConfig {
            all_reduce_op: ReduceOperation::Mean,
        };
        let plain = devices
            .iter()
            .map(|device| device.clone().inner())
            .collect();
        let context = DistributedContext::init(plain, config);
        Self {
            devices,
            reduction: Reduction::AllReduce(Arc::new(context)),
        }
    }

    /// The number of replicas.
    pub fn count(&self) -> usize {
        self.devices.len()
    }

    /// The main device.
    pub fn main(&self) -> &Device {
        &self.devices[0]
    }

    /// Whether the gradients are averaged by collectives.
    pub fn all_reduces(&self) -> bool {
        matches!(self.reduction, Reduction::AllReduce(_))
    }

    /// Items of a loader of `items` that each replica's shard gets (the
    /// remainder, fewer than the replicas, is dropped so that every replica
    /// takes the same number of steps).
    pub fn shard_len(&self, items: usize) -> usize {
        items / self.count()
    }

    /// One shard of `loader` per replica, batched on its device: contiguous
    /// equal slices, each shuffled within itself every epoch. One device
    /// keeps the whole loader.
    pub fn shard<O: 'static>(
        &self,
        loader: &Arc<dyn DataLoader<O>>,
    ) -> Vec<Arc<dyn DataLoader<O>>> {
        if self.count() == 1 {
            return vec![loader.to_device(self.main())];
        }
        let len = self.shard_len(loader.num_items());
        self.devices
            .iter()
            .enumerate()
            .map(|(index, device)| {
                loader
                    .slice(index * len, (index + 1) * len)
                    .to_device(device)
            })
            .collect()
    }

    /// Runs `batches[i]` through replica `i`, all at once (one device: on
    /// this thread, on `model` itself). Each replica is `model` forked to its
    /// device. Returns the outputs in replica order, or every replica's panic
    /// (the replica's position in `--devices` as its device id).
    pub fn step<M: TrainStep + Module>(
        &self,
        model: &M,
        mut batches: Vec<M::Input>,
    ) -> Result<Vec<TrainOutput<M::Output>>, MultiDeviceStepError> {
        if self.count() == 1 {
            let batch = batches.pop().expect("one batch");
            return Ok(vec![model.step(batch)]);
        }
        thread::scope(|scope| {
            let workers: Vec<_> = batches
                .into_iter()
                .zip(&self.devices)
                .map(|(batch, device)| {
                    let model = model.clone();
                    scope.spawn(move || self.replica(model, device).step(batch))
                })
                .collect();
            let mut outputs = Vec::with_capacity(workers.len());
            let mut failures = Vec::new();
            for (device_id, worker) in workers.into_iter().enumerate() {
                match worker.join() {
                    Ok(output) => outputs.push(output),
                    Err(payload) => failures.push(WorkerFailure {
                        device_id,
                        message: panic_message(payload.as_ref()),
                    }),
                }
            }
            match failures.is_empty() {
                true => Ok(outputs),
                false => Err(MultiDeviceStepError::Workers(failures)),
            }
        })
    }

    /// Adds the gradients of one step of every replica (in replica order) to
    /// `accumulator` on the main device; returns how many micro-batches'
    /// gradients they sum (all-reduced ones are already a mean: one).
    pub fn accumulate<M: Module>(
        &self,
        model: &M,
        accumulator: &mut GradientsAccumulator<M>,
        grads: Vec<GradientsParams>,
    ) -> usize {
        match self.reduction {
            Reduction::AllReduce(_) => {
                if let Some(main) = grads.into_iter().next() {
                    accumulator.accumulate(model, main);
                }
                1
            }
            Reduction::Gather => {
                let count = grads.len();
                for grads in grads {
                    accumulator.accumulate(model, grads.to_device(self.main(), model));
                }
                count
            }
        }
    }

    /// `model` on `device`, its parameters marked for the all-reduce if there is one.
    fn replica<M: Module>(&self, model: M, device: &Device) -> M {
        let replica = model.fork(device);
        match self.reduction {
            Reduction::Gather => replica,
            Reduction::AllReduce(_) => replica.map(&mut MarkDistributed),
        }
    }
}

/// Marks every float parameter so that its gradient is all-reduced during `backward()`.
struct MarkDistributed;

impl ModuleMapper for MarkDistributed {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        Param::from_mapped_value(id, tensor.set_distributed(id), mapper)
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|message| message.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}
