//! [`DeviceSpec`]: what `train --devices` names, and the replicas it makes
//! on the backend in use.

use std::fmt;

use anyhow::{Result, bail};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::replicas::Replicas;
use crate::backend;

/// What `--devices` names: a count, or the devices themselves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceSpec {
    /// The backend's first N devices (N replicas on the CPU device).
    Count(usize),
    /// Devices by name: `cuda:0`, `wgpu:1`, `cpu` (one replica on the CPU device each).
    Named(Vec<NamedDevice>),
}

/// A device named in `--devices`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamedDevice {
    /// `cuda:I`.
    Cuda(usize),
    /// `wgpu:I`: the I-th discrete GPU.
    Wgpu(usize),
    /// `cpu` (also `flex`, `ndarray`): the CPU device of the CPU backends.
    Cpu,
}

impl DeviceSpec {
    /// The number of replicas.
    pub fn count(&self) -> usize {
        match self {
            Self::Count(count) => *count,
            Self::Named(devices) => devices.len(),
        }
    }

    /// The replicas this names on the backend in use, the first on `main`:
    /// a count is the backend's first N GPUs, or N replicas on the CPU
    /// device; names must be the backend's. Several distinct CUDA GPUs
    /// average their gradients with NCCL; other replicas gather theirs.
    pub fn replicas(&self, main: &Device) -> Result<Replicas> {
        let devices: Vec<Device> = match self {
            Self::Count(1) => vec![main.clone()],
            Self::Count(count) => (0..*count)
                .map(|index| backend::nth_device(index, main))
                .collect::<Result<_>>()?,
            Self::Named(names) => names
                .iter()
                .map(|name| name.device(main))
                .collect::<Result<_>>()?,
        };
        let distinct = devices
            .iter()
            .enumerate()
            .all(|(index, device)| !devices[..index].contains(device));
        let training = devices
            .iter()
            .map(|device| device.clone().autodiff())
            .collect();
        Ok(
            if backend::name()? == "cuda" && devices.len() > 1 && distinct {
                Replicas::all_reduced(training)
            } else {
                Replicas::gathered(training)
            },
        )
    }
}

impl NamedDevice {
    /// This device on the backend in use (`main` for `cpu`), or why it is not one of its.
    fn device(&self, main: &Device) -> Result<Device> {
        let backend = backend::name()?;
        match (self, backend) {
            (Self::Cpu, "flex" | "ndarray") => Ok(main.clone()),
            (Self::Cuda(index), "cuda") | (Self::Wgpu(index), "wgpu") => {
                backend::nth_device(*index, main)
            }
            _ => bail!(
                "--devices {self}: not a device of the {backend} backend in use (name {} devices, or pick the backend with {})",
                match backend {
                    "cuda" => "cuda:I",
                    "wgpu" => "wgpu:I",
                    _ => "cpu",
                },
                backend::BACKEND_VAR
            ),
        }
    }
}

impl Default for DeviceSpec {
    fn default() -> Self {
        Self::Count(1)
    }
}

impl std::str::FromStr for DeviceSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if let Ok(count) = text.trim().parse::<usize>() {
            return match count {
                0 => Err("--devices must be at least 1".into()),
                count => Ok(Self::Count(count)),
            };
        }
        text.split(',')
            .map(|name| NamedDevice::from_str(name.trim()))
            .collect::<Result<_, _>>()
            .map(Self::Named)
    }
}

impl NamedDevice {
    fn from_str(name: &str) -> Result<Self, String> {
        let indexed = |kind: &str| {
            let index = name.strip_prefix(kind)?.strip_prefix(':')?;
            index.parse::<usize>().ok()
        };
        match name {
            "cpu" | "flex" | "ndarray" => Ok(Self::Cpu),
            _ => indexed("cuda")
                .map(Self::Cuda)
                .or_else(|| indexed("wgpu").map(Self::Wgpu))
                .ok_or_else(|| {
                    format!(
                        "--devices: {name:?} is not a device; expected a count (2), or names such as cuda:0,cuda:1, wgpu:0 or cpu"
                    )
                }),
        }
    }
}

impl fmt::Display for NamedDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cuda(index) => write!(f, "cuda:{index}"),
            Self::Wgpu(index) => write!(f, "wgpu:{index}"),
            Self::Cpu => f.write_str("cpu"),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(count) => write!(f, "{count}"),
            Self::Named(devices) => {
                let names: Vec<String> = devices.iter().map(ToString::to_string).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

impl TryFrom<String> for DeviceSpec {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl From<DeviceSpec> for String {
    fn from(spec: DeviceSpec) -> Self {
        spec.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_names_are_read_and_written_back() {
        assert_eq!("2".parse(), Ok(DeviceSpec::Count(2)));
        let named: DeviceSpec = "cuda:0, cuda:3".parse().unwrap();
        assert_eq!(
            named,
            DeviceSpec::Named(vec![NamedDevice::Cuda(0), NamedDevice::Cuda(3)])
        );
        assert_eq!(named.count(), 2);
        assert_eq!(named.to_string(), "cuda:0,cuda:3");
        let cpu: DeviceSpec = "cpu,flex,wgpu:1".parse().unwrap();
        assert_eq!(cpu.to_string(), "cpu,cpu,wgpu:1");
        let saved = serde_json::to_value(&named).unwrap();
        assert_eq!(saved, serde_json::json!("cuda:0,cuda:3"));
        assert_eq!(serde_json::from_value::<DeviceSpec>(saved).unwrap(), named);
    }

    #[test]
    fn cpu_replicas_share_the_device_and_other_backends_devices_are_refused() {
        let main = crate::backend::device().unwrap();
        let replicas = DeviceSpec::Count(3).replicas(&main).unwrap();
        assert_eq!(replicas.count(), 3);
        assert!(!replicas.all_reduces());
        assert_eq!(replicas.main(), &main.clone().autodiff());
        let spec: DeviceSpec = "cuda:0,cuda:1".parse().unwrap();
        let Err(error) = spec.replicas(&main) else {
            panic!("cuda devices on the flex backend");
        };
        let error = error.to_string();
        assert!(
            error.starts_with("--devices cuda:0: not a device of the flex backend in use"),
            "{error}"
        );
    }

    #[test]
    fn bad_specs_say_what_was_expected() {
        assert_eq!(
            "0".parse::<DeviceSpec>(),
            Err("--devices must be at least 1".into())
        );
        for bad in ["cuda", "cuda:x", "gpu:0", "cuda:0,", ""] {
            let error = bad.parse::<DeviceSpec>().unwrap_err();
            assert!(error.contains("expected a count"), "{bad}: {error}");
        }
    }
}
