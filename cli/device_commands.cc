// The device commands: `layer import|create|seal`, `container create`, `commit`,
// `volume create|clone|grow`, `grow`, `activate`, `deactivate`, `mount`, `unmount`, `rm`.
// Each subcommand parses into its own options struct.
#include <fcntl.h>
#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>

#include "base/error.h"
#include "base/fd.h"
#include "base/units.h"
#include "cli/commands.h"

namespace thinsnap::cli {
namespace {

struct LayerArgs {
  std::string name, parent, file;
};

void AddLayer(CLI::App* app, Program* p) {
  CLI::App* layer = AddCommandGroup(app, "layer", "image layers");
  auto a = std::make_shared<LayerArgs>();
  CLI::App* import = layer->add_subcommand("import", "apply a layer tarball (- for stdin)");
  import->add_option("NAME", a->name)->required();
  import->add_option("FILE", a->file)->required();
  import->add_option("--parent", a->parent, "the layer below");
  p->On(import, [p, a] {
    UniqueFd file;
    if (a->file != "-") file = UniqueFd::Open(a->file, O_RDONLY | O_CLOEXEC);
    DeviceRecord rec =
        p->engine().ImportLayer(a->name, a->parent, file.valid() ? file.get() : STDIN_FILENO);
    file.Close();
    std::cout << rec.name << " " << rec.digest << "\n";
    return 0;
  });
  auto c = std::make_shared<LayerArgs>();
  CLI::App* create = layer->add_subcommand("create", "an empty writable layer");
  create->add_option("NAME", c->name)->required();
  create->add_option("--parent", c->parent, "the layer below");
  p->On(create, [p, c] {
    std::cout << p->engine().CreateLayer(c->name, c->parent).name << "\n";
    return 0;
  });
  auto s = std::make_shared<std::string>();
  CLI::App* seal = layer->add_subcommand("seal", "make a created layer read-only");
  seal->add_option("NAME", *s)->required();
  p->On(seal, [p, s] {
    p->engine().SealLayer(*s);
    return 0;
  });
}

struct ContainerArgs {
  std::string name, from, size;
  bool activate = false;
};

void AddContainer(CLI::App* app, Program* p) {
  CLI::App* container = AddCommandGroup(app, "container", "containers");
  auto a = std::make_shared<ContainerArgs>();
  CLI::App* create = container->add_subcommand("create", "a writable snapshot of a layer");
  create->add_option("NAME", a->name)->required();
  create->add_option("--from", a->from, "the layer")->required();
  create->add_option("--size", a->size, "grow the filesystem to this size");
  create->add_flag("--activate", a->activate, "also activate it and print the device path");
  p->On(create, [p, a] {
    std::optional<uint64_t> size;
    if (!a->size.empty()) size = ParseSize(a->size, "--size");
    std::cout << (a->activate ? p->engine().CreateActiveContainer(a->name, a->from, size)
                              : p->engine().CreateContainer(a->name, a->from, size).name)
              << "\n";
    return 0;
  });
}

// Two names: `commit CONTAINER NEW_LAYER`, `volume clone SRC NEW`.
struct FromToArgs {
  std::string from, to;
};

void AddCommit(CLI::App* app, Program* p) {
  auto a = std::make_shared<FromToArgs>();
  CLI::App* commit = app->add_subcommand("commit", "container -> new read-only layer");
  commit->add_option("CONTAINER", a->from)->required();
  commit->add_option("NEW_LAYER", a->to)->required();
  p->On(commit, [p, a] {
    std::cout << p->engine().Commit(a->from, a->to).name << "\n";
    return 0;
  });
}

struct SizeArgs {
  std::string name, size, fs = "ext4";
};

// `grow` and its alias under `volume`: same options, same code.
void AddGrow(CLI::App* parent, Program* p) {
  auto a = std::make_shared<SizeArgs>();
  CLI::App* grow = parent->add_subcommand("grow", "grow a container or volume (and its fs)");
  grow->add_option("NAME", a->name)->required();
  grow->add_option("--size", a->size, "the new size, e.g. 40G (never smaller)")->required();
  p->On(grow, [p, a] {
    DeviceRecord rec = p->engine().Grow(a->name, ParseSize(a->size, "--size"));
    std::cout << rec.name << ": " << FormatSize(rec.size_bytes) << "\n";
    return 0;
  });
}

void AddVolume(CLI::App* app, Program* p) {
  CLI::App* volume = AddCommandGroup(app, "volume", "named thin volumes");
  auto a = std::make_shared<SizeArgs>();
  CLI::App* create = volume->add_subcommand("create", "a new volume");
  create->add_option("NAME", a->name)->required();
  create->add_option("--size", a->size, "size, e.g. 20G")->required();
  create->add_option("--fs", a->fs, "ext4 (default), xfs or none");
  p->On(create, [p, a] {
    p->engine().CreateVolume(a->name, ParseSize(a->size, "--size"), ParseFsType(a->fs, true));
    std::cout << a->name << "\n";
    return 0;
  });
  auto c = std::make_shared<FromToArgs>();
  CLI::App* clone = volume->add_subcommand("clone", "an instant copy of a volume");
  clone->add_option("SRC", c->from)->required();
  clone->add_option("NEW", c->to)->required();
  p->On(clone, [p, c] {
    std::cout << p->engine().CloneVolume(c->from, c->to).name << "\n";
    return 0;
  });
  AddGrow(app, p);
  AddGrow(volume, p);
}

struct MountArgs {
  std::string name, dir;
};

// `activate`, `deactivate`, `mount`, `unmount`: a device's node and mount, one name each.
void AddNodeAndMount(CLI::App* app, Program* p) {
  auto act = std::make_shared<std::string>();
  CLI::App* activate = app->add_subcommand("activate", "device node without a mount");
  activate->add_option("NAME", *act)->required();
  p->On(activate, [p, act] {
    std::cout << p->engine().Activate(*act) << "\n";
    return 0;
  });
  auto deact = std::make_shared<std::string>();
  CLI::App* deactivate = app->add_subcommand("deactivate", "remove the device node");
  deactivate->add_option("NAME", *deact)->required();
  p->On(deactivate, [p, deact] {
    p->engine().Deactivate(*deact);
    return 0;
  });
  auto m = std::make_shared<MountArgs>();
  CLI::App* mount = app->add_subcommand("mount", "mount a device");
  mount->add_option("NAME", m->name)->required();
  mount->add_option("DIR", m->dir);
  p->On(mount, [p, m] {
    std::cout << p->engine().Mount(m->name, m->dir) << "\n";
    return 0;
  });
  auto u = std::make_shared<std::string>();
  CLI::App* unmount = app->add_subcommand("unmount", "unmount a device");
  unmount->alias("umount");
  unmount->add_option("NAME", *u)->required();
  p->On(unmount, [p, u] {
    p->engine().Unmount(*u);
    return 0;
  });
}

struct RemoveArgs {
  std::string name;
  bool force = false, discard = false;
};

void AddRemove(CLI::App* app, Program* p) {
  auto a = std::make_shared<RemoveArgs>();
  CLI::App* rm = app->add_subcommand("rm", "remove a device");
  rm->add_option("NAME", a->name)->required();
  rm->add_flag("--force", a->force, "unmount, deactivate, and remove even with children");
  rm->add_flag("--discard", a->discard, "discard the device's blocks first");
  p->On(rm, [p, a] {
    if (p->engine().Remove(a->name, a->force, a->discard) == RemoveOutcome::kDeferred) {
      std::cout << a->name
                << ": device still open; removal deferred until it is closed "
                   "(finished by the next command or thinsnap pool gc)\n";
    }
    return 0;
  });
}

}  // namespace

void AddDeviceCommands(CLI::App* app, Program* p) {
  AddLayer(app, p);
  AddContainer(app, p);
  AddCommit(app, p);
  AddVolume(app, p);
  AddNodeAndMount(app, p);
  AddRemove(app, p);
}

}  // namespace thinsnap::cli
