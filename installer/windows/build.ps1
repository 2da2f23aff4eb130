# Windows: dist\Ponder\ponder.exe and dist\Ponder-<version>-windows-x64-<cpu|cuda|vulkan>-setup.exe.
# Not yet run on Windows. Needs Python 3.10+ (py launcher), Visual Studio 2022 Build Tools
# (C++), and Inno Setup 6 (iscc on PATH).
#   .\installer\windows\build.ps1          CPU build: runs everywhere
#   .\installer\windows\build.ps1 -Cuda    NVIDIA build: also needs the CUDA Toolkit 12.x; the
#                                          CUDA runtime DLLs are bundled (NVIDIA allows that)
#   .\installer\windows\build.ps1 -Vulkan  NVIDIA, AMD and Intel GPUs through Vulkan: also needs the
#                                          LunarG Vulkan SDK (headers, glslc; VULKAN_SDK set). The
#                                          Vulkan loader (vulkan-1.dll) comes with every GPU driver and
#                                          is not bundled: with a driver but no Vulkan device the app
#                                          runs on the CPU and says why; with no GPU driver at all
#                                          llama.cpp cannot load, so the CPU installer stays
param([switch]$Cuda, [switch]$Vulkan)
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..\..")
if ($Cuda -and $Vulkan) { throw "Choose -Cuda or -Vulkan, not both" }
$variant = if ($Cuda) { "cuda" } elseif ($Vulkan) { "vulkan" } else { "cpu" }
$venv = ".venv-$variant"  # one per variant: llama-cpp-python is compiled differently in each
if (-not (Test-Path "$venv\Scripts\python.exe")) {
    py -3 -m venv $venv
    $env:CMAKE_ARGS = @{ cuda = "-DGGML_CUDA=on"; vulkan = "-DGGML_VULKAN=on -DGGML_NATIVE=off"; cpu = "" }[$variant]
    & "$venv\Scripts\pip.exe" install --no-cache-dir --no-binary llama-cpp-python . pyinstaller
    if ($LASTEXITCODE) { throw "pip install failed" }
}
$py = "$venv\Scripts\python.exe"
& $py installer\make_icons.py build\icons  # ponder.ico from resources\icons\ponder.svg
& $py -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build\pyinstaller installer\ponder.spec
if ($LASTEXITCODE) { throw "PyInstaller failed" }
$version = & $py -c "import app; print(app.__version__)"
iscc "/DAppVersion=$version" "/DVariant=$variant" installer\windows\ponder.iss
if ($LASTEXITCODE) { throw "Inno Setup failed" }
