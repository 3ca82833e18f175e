# install.cmake — what `make install` and `cmake --install` put where.
#
# Paths follow GNUInstallDirs (CMAKE_INSTALL_PREFIX, default /usr/local;
# DESTDIR for staging): the binary, a man page per command and heed.yaml(5)
# (made at build time from heed's own help texts and docs/config.md, by
# scripts/man.py), bash and zsh completion, the systemd unit, and the
# example config. The Debian package (debian/) installs through this too.

include(GNUInstallDirs)

option(HEED_INSTALL_MAN "make and install the manual pages (needs python3)" ON)
set(HEED_BASH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/bash-completion/completions"
    CACHE STRING "bash completion directory (relative: under the prefix)")
set(HEED_ZSH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/zsh/site-functions"
    CACHE STRING "zsh completion directory (relative: under the prefix)")
set(HEED_SYSTEMD_UNIT_DIR "lib/systemd/system"
    CACHE STRING "systemd system unit directory (relative: under the prefix)")

install(TARGETS heed RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES dist/heed.bash DESTINATION ${HEED_BASH_COMPLETION_DIR} RENAME heed)
install(FILES dist/_heed DESTINATION ${HEED_ZSH_COMPLETION_DIR})
install(FILES dist/heed.yaml DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# The unit and the config: at install time, for the prefix of the install
# (`cmake --install --prefix` may differ from the configured one): see there.
install(CODE "
  set(HEED_SOURCE_DIR \"${CMAKE_SOURCE_DIR}\")
  set(HEED_BINARY_DIR \"${CMAKE_BINARY_DIR}\")
  set(HEED_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(HEED_SYSCONFDIR \"${CMAKE_INSTALL_SYSCONFDIR}\")
  set(HEED_DOCDIR \"${CMAKE_INSTALL_DOCDIR}\")
  set(HEED_SYSTEMD_UNIT_DIR \"${HEED_SYSTEMD_UNIT_DIR}\")
  include(\"${CMAKE_SOURCE_DIR}/cmake/install-time.cmake\")")

if(HEED_INSTALL_MAN)
  find_program(HEED_PYTHON3 NAMES python3 REQUIRED)
  set(HEED_MAN_DIR ${CMAKE_BINARY_DIR}/man)
  set(HEED_MAN_PAGES)
  # Commands of sections 1 and 8 (scripts/man.py has the same table).
  set(HEED_MAN_COMMANDS wait:1 ping:8 agent:8 checks:1 status:1 services:1 kv:1 lock:1
                        watch:1 inventory:1)
  foreach(entry ${HEED_MAN_COMMANDS})
    string(REPLACE ":" ";" pair ${entry})
    list(GET pair 0 cmd)
    list(GET pair 1 sec)
    set(page ${HEED_MAN_DIR}/heed-${cmd}.${sec})
    add_custom_command(OUTPUT ${page}
                       COMMAND ${HEED_PYTHON3} ${CMAKE_SOURCE_DIR}/scripts/man.py command
                               $<TARGET_FILE:heed> ${cmd} ${sec} ${page}
                       DEPENDS heed ${CMAKE_SOURCE_DIR}/scripts/man.py VERBATIM)
    list(APPEND HEED_MAN_PAGES ${page})
    install(FILES ${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${sec})
  endforeach()
  add_custom_command(OUTPUT ${HEED_MAN_DIR}/heed.1
                     COMMAND ${HEED_PYTHON3} ${CMAKE_SOURCE_DIR}/scripts/man.py main
                             $<TARGET_FILE:heed> ${HEED_MAN_DIR}/heed.1
                     DEPENDS heed ${CMAKE_SOURCE_DIR}/scripts/man.py VERBATIM)
  add_custom_command(OUTPUT ${HEED_MAN_DIR}/heed.yaml.5
                     COMMAND ${HEED_PYTHON3} ${CMAKE_SOURCE_DIR}/scripts/man.py config
                             ${CMAKE_SOURCE_DIR}/docs/config.md ${HEED_MAN_DIR}/heed.yaml.5
                     DEPENDS ${CMAKE_SOURCE_DIR}/docs/config.md ${CMAKE_SOURCE_DIR}/scripts/man.py
                     VERBATIM)
  install(FILES ${HEED_MAN_DIR}/heed.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  install(FILES ${HEED_MAN_DIR}/heed.yaml.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
  file(MAKE_DIRECTORY ${HEED_MAN_DIR})
  add_custom_target(man ALL DEPENDS ${HEED_MAN_PAGES} ${HEED_MAN_DIR}/heed.1
                                    ${HEED_MAN_DIR}/heed.yaml.5)
endif()
