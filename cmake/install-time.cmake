# install-time.cmake — the installed files that name other installed paths,
# made when installing: CMAKE_INSTALL_PREFIX is then the install's prefix
# (`cmake --install build --prefix P`, or the configured one). install.cmake
# sets the HEED_* variables (GNUInstallDirs' values, relative or absolute).
# file(INSTALL) adds $DESTDIR and records each file in install_manifest.txt.

# A GNUInstallDirs directory, absolute for this prefix: etc is /etc for the
# prefixes / and /usr, as GNUInstallDirs has it.
function(heed_full var dir)
  if(IS_ABSOLUTE "${dir}")
    set(${var} "${dir}" PARENT_SCOPE)
  elseif(dir STREQUAL "etc" AND CMAKE_INSTALL_PREFIX MATCHES "^/(usr/?)?$")
    set(${var} "/etc" PARENT_SCOPE)
  else()
    string(REGEX REPLACE "/$" "" prefix "${CMAKE_INSTALL_PREFIX}")
    set(${var} "${prefix}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

heed_full(HEED_FULL_BINDIR "${HEED_BINDIR}")
heed_full(HEED_FULL_SYSCONFDIR "${HEED_SYSCONFDIR}")
heed_full(HEED_FULL_DOCDIR "${HEED_DOCDIR}")
heed_full(unit_dir "${HEED_SYSTEMD_UNIT_DIR}")

configure_file("${HEED_SOURCE_DIR}/dist/heed.service.in" "${HEED_BINARY_DIR}/dist/heed.service" @ONLY)
file(INSTALL "${HEED_BINARY_DIR}/dist/heed.service" DESTINATION "${unit_dir}")

# The example config goes to SYSCONFDIR/heed/heed.yaml only when no config
# is there yet: a reinstall never overwrites an edited one.
set(conf "$ENV{DESTDIR}${HEED_FULL_SYSCONFDIR}/heed/heed.yaml")
if(EXISTS "${conf}")
  message(STATUS "Kept: ${conf} (the example is in ${HEED_FULL_DOCDIR}/examples)")
else()
  file(INSTALL "${HEED_SOURCE_DIR}/dist/heed.yaml" DESTINATION "${HEED_FULL_SYSCONFDIR}/heed")
endif()
