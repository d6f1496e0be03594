//! The compute device, chosen by the cargo feature the binary was built with.

use burn::tensor::Device;

/// Name of the backend compiled in (`cuda`, `wgpu`, `flex` or `ndarray`).
pub fn name() -> &'static str {
    if cfg!(feature = "cuda") {
        "cuda"
    } else if cfg!(feature = "wgpu") {
        "wgpu"
    } else if cfg!(feature = "flex") {
        "flex"
    } else {
        "ndarray"
    }
}

/// The device of the compiled-in backend, built explicitly (never `Device::default()`).
pub fn device() -> Device {
    #[cfg(feature = "cuda")]
    return Device::cuda(0usize);
    #[cfg(all(feature = "wgpu", not(feature = "cuda")))]
    return Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
    #[cfg(all(feature = "flex", not(any(feature = "cuda", feature = "wgpu"))))]
    return Device::flex();
    #[cfg(all(
        feature = "ndarray",
        not(any(feature = "cuda", feature = "wgpu", feature = "flex"))
    ))]
    #[allow(deprecated)]
    return Device::ndarray();
    #[cfg(not(any(
        feature = "cuda",
        feature = "wgpu",
        feature = "flex",
        feature = "ndarray"
    )))]
    compile_error!("bert-train needs one backend feature: ndarray, flex, wgpu or cuda");
}
