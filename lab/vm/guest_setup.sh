#!/bin/sh
# Runs inside the debootstrapped chroot: installs the storage and cluster stack and prepares boot.
# Usage: guest_setup.sh PACKAGE... (packages after the kernel and ZFS, which are installed first).
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin
install_packages() {
    apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confdef "$@"
}
stamp() { echo "lab-build: $(date +%s) $*"; }

apt-get update
stamp kernel
install_packages linux-image-amd64 linux-headers-amd64
# The guest kernel, not the host's `uname -r`: dkms must build zfs.ko for the kernel the guest boots.
guest_kernel=$(dpkg-query -W -f '${Depends}' linux-image-amd64 | sed -n 's/^linux-image-\([^ ,]*\).*/\1/p')
stamp "zfs for $guest_kernel"
install_packages zfs-dkms zfsutils-linux
if ! modinfo -k "$guest_kernel" zfs >/dev/null 2>&1; then
    zfs_version=$(dpkg-query -W -f '${Version}' zfs-dkms | sed 's/-.*//')
    dkms install "zfs/$zfs_version" -k "$guest_kernel"
fi
modinfo -k "$guest_kernel" zfs | grep -E '^(filename|version):'
stamp "packages $*"
install_packages "$@"

systemctl enable systemd-networkd.service lab-identity.service
systemctl enable qemu-guest-agent.service 2>/dev/null || true
# Pools are imported by the cluster, never by boot; the cluster daemons are started by tests;
# ifupdown's networking.service is replaced by networkd (configured by lab-identity).
for unit in zfs-import-cache.service zfs-import-scan.service pcsd.service pcsd-ruby.service \
        corosync.service pacemaker.service networking.service e2scrub_reap.service \
        apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer; do
    systemctl disable "$unit" 2>/dev/null || true
done
# Each cost 9-20 s of an emulated boot and nothing in the lab waits on them. zfs-load-module.service
# Requires= udev-settle, so the module is loaded by systemd-modules-load instead (spl reads
# /etc/hostid when asked, so loading before lab-identity runs is fine).
systemctl mask systemd-networkd-wait-online.service systemd-udev-settle.service zfs-load-module.service
echo zfs > /etc/modules-load.d/zfs.conf
systemctl set-default multi-user.target

echo "LABEL=root / ext4 errors=remount-ro 0 1" > /etc/fstab
passwd -d root
# A fixed machine id avoids systemd's first-boot preset run (which re-enables what was disabled);
# each guest gets its own through systemd.machine_id= on the kernel command line.
echo 1ab0000000000000000000000000000b > /etc/machine-id
rm -f /etc/ssh/ssh_host_* 2>/dev/null || true
update-initramfs -u -k "$guest_kernel"
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log
echo "$guest_kernel" > /etc/lab-guest-kernel
dpkg-query -W -f '${Package} ${Version}\n' > /etc/lab-packages.txt
stamp done
